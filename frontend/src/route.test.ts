// The address's `#session=<id>`: which session it opens, and how (vi.mock stands in for the server).

import { beforeEach, describe, expect, it, vi } from 'vitest';

vi.mock('./api', () => ({ api: { running: vi.fn(), output: vi.fn() } }));

import { api } from './api';
import type { Controller } from './controller';
import { openFromLocation } from './route';

const ID = '0f0f0f0f-1111-4222-8333-444444444444';

function fakeController(known = false) {
  return {
    activateSession: vi.fn(() => known),
    attach: vi.fn(),
    showRuns: vi.fn(),
    showUsage: vi.fn(),
    showAgents: vi.fn(),
  };
}

const start = { type: 'start', session_id: ID, seq: 0, message: '', command_type: 'execute', project_path: '/p/from-events', model: null };

describe('openFromLocation', () => {
  beforeEach(() => {
    vi.mocked(api.running).mockReset();
    vi.mocked(api.output).mockReset();
  });

  it('attaches to a run the server lists, in its project', async () => {
    vi.mocked(api.running).mockResolvedValue([{ session_id: ID, project_path: '/p/listed' } as never]);
    const c = fakeController();
    await openFromLocation(c as unknown as Controller, `#session=${ID}`);
    expect(c.attach).toHaveBeenCalledWith(ID, '/p/listed', null);
    expect(api.output).not.toHaveBeenCalled();
  });

  it('a session the server does not list but has events of (another replica of a cluster ran it) opens from its events', async () => {
    vi.mocked(api.running).mockResolvedValue([]);
    vi.mocked(api.output).mockResolvedValue([start as never]);
    const c = fakeController();
    await openFromLocation(c as unknown as Controller, `#session=${ID}`);
    expect(api.output).toHaveBeenCalledWith(ID);
    expect(c.attach).toHaveBeenCalledWith(ID, '/p/from-events', null);
  });

  it('a session the server does not know opens nothing', async () => {
    vi.mocked(api.running).mockResolvedValue([]);
    vi.mocked(api.output).mockRejectedValue(new Error('404'));
    const c = fakeController();
    await openFromLocation(c as unknown as Controller, `#session=${ID}`);
    expect(c.attach).not.toHaveBeenCalled();
  });

  it('a session with a tab already is shown, nothing asked of the server', async () => {
    const c = fakeController(true);
    await openFromLocation(c as unknown as Controller, `#session=${ID}`);
    expect(c.attach).not.toHaveBeenCalled();
    expect(api.running).not.toHaveBeenCalled();
  });
});
