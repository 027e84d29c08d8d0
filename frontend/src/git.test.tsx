// The Git pane: groups the status, stages with the file's path, asks before discarding, and offers git init
// for a folder that is not a repository; the diff view colours lines by their marker.
import { act } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { lineClass } from './components/DiffView';
import { GitPane } from './components/GitPane';

const ok = (data: unknown, status = 200) =>
  new Response(JSON.stringify({ success: status < 300, data, error: status < 300 ? null : 'refused' }), { status });

const STATUS = {
  repository: true,
  branch: 'main',
  head: 'abc',
  upstream: null,
  ahead: 0,
  behind: 0,
  staged: [{ path: 's.txt', kind: 'added' }],
  unstaged: [{ path: 'm.txt', kind: 'modified' }],
  untracked: ['u.txt'],
  conflicted: [],
};

describe('GitPane', () => {
  let container: HTMLDivElement;
  let root: Root;
  beforeEach(() => {
    (globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;
    container = document.createElement('div');
    document.body.appendChild(container);
    root = createRoot(container);
  });
  afterEach(() => {
    act(() => root.unmount());
    container.remove();
    vi.unstubAllGlobals();
  });
  const settle = () =>
    act(async () => {
      for (let i = 0; i < 8; i++) await Promise.resolve();
    });
  const click = (el: Element | null) => act(() => (el as HTMLElement).click());

  it('groups the files, stages one by path, and discards only after confirming', async () => {
    const calls: { method: string; url: string; body: unknown }[] = [];
    vi.stubGlobal(
      'fetch',
      vi.fn(async (url: string, init: RequestInit) => {
        calls.push({ method: init.method ?? 'GET', url, body: init.body ? JSON.parse(String(init.body)) : null });
        return url.startsWith('/api/git/status') ? ok(STATUS) : ok({});
      }),
    );
    act(() => root.render(<GitPane projectPath="/p" onClose={() => {}} />));
    await settle();
    const groups = [...container.querySelectorAll('[data-testid="git-file"]')].map((r) => `${r.getAttribute('data-group')}:${r.getAttribute('data-path')}`);
    expect(groups).toEqual(['staged:s.txt', 'unstaged:m.txt', 'untracked:u.txt']);

    await click(container.querySelector('[data-path="u.txt"] [data-testid="git-stage"]'));
    await settle();
    expect(calls.find((c) => c.url.startsWith('/api/git/stage'))).toMatchObject({
      method: 'POST',
      url: '/api/git/stage?project_path=%2Fp',
      body: { paths: ['u.txt'] },
    });

    await click(container.querySelector('[data-path="m.txt"] [data-testid="git-discard"]'));
    expect(calls.some((c) => c.url.startsWith('/api/git/discard'))).toBe(false);
    await click(container.querySelector('[data-testid="git-discard-yes"]'));
    await settle();
    expect(calls.find((c) => c.url.startsWith('/api/git/discard'))?.body).toEqual({ path: 'm.txt' });
  });

  it('offers git init for a folder that is not a repository', async () => {
    const calls: string[] = [];
    vi.stubGlobal(
      'fetch',
      vi.fn(async (url: string) => {
        calls.push(url);
        return url.startsWith('/api/git/status') ? ok({ repository: false }) : ok({ initialized: true });
      }),
    );
    act(() => root.render(<GitPane projectPath="/p" onClose={() => {}} />));
    await settle();
    expect(container.querySelector('[data-testid="git-not-repo"]')).not.toBeNull();
    await click(container.querySelector('[data-testid="git-init"]'));
    await settle();
    expect(calls).toContain('/api/git/init?project_path=%2Fp');
  });
});

describe('lineClass', () => {
  it('colours additions, deletions, hunks and headers', () => {
    expect(['+a', '-b', '@@ -1 +1 @@', '+++ b/x', '--- a/x', ' c', 'diff --git a/x b/x'].map(lineClass)).toEqual([
      'diff-add',
      'diff-del',
      'diff-hunk',
      'diff-file',
      'diff-file',
      'diff-ctx',
      'diff-meta',
    ]);
  });
});
