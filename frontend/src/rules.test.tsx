// The permission rules page: lists the project's allow / deny / ask rules, removes one with a PUT carrying the
// version read, and a 409 (changed elsewhere) reads the lists again with a note.
import { act } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PermissionRulesPage } from './components/PermissionRules';

const ok = (data: unknown, status = 200) => new Response(JSON.stringify({ success: status < 300, data, error: status < 300 ? null : 'conflict' }), { status });

describe('PermissionRulesPage', () => {
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
  const rows = () => [...container.querySelectorAll('[data-testid="rule-row"]')].map((r) => `${r.getAttribute('data-list')}:${r.getAttribute('data-rule')}`);
  const settle = () => act(async () => {
    for (let i = 0; i < 5; i++) await Promise.resolve();
  });

  it('lists the rules, removes one with the version, and reloads on a 409', async () => {
    const first = { file: '/p/.claude/settings.local.json', allow: ['Bash(echo hi *)', 'WebFetch'], deny: ['Read(.env)'], ask: [], version: 'v1' };
    const calls: { method: string; url: string; body: unknown }[] = [];
    const answers: Response[] = [
      ok(first),
      ok({ ...first, allow: ['WebFetch'], version: 'v2' }),
      ok(null, 409),
      ok({ ...first, allow: ['WebFetch', 'Bash(ls)'], version: 'v3' }),
    ];
    vi.stubGlobal(
      'fetch',
      vi.fn(async (url: string, init: RequestInit) => {
        calls.push({ method: init.method ?? 'GET', url, body: init.body ? JSON.parse(init.body as string) : null });
        return answers.shift()!;
      }),
    );
    const onClose = vi.fn();
    await act(async () => root.render(<PermissionRulesPage projectPath="/p" onClose={onClose} />));
    await settle();
    expect(calls[0]).toEqual({ method: 'GET', url: '/api/permission-rules?project_path=%2Fp', body: null });
    expect(rows()).toEqual(['allow:Bash(echo hi *)', 'allow:WebFetch', 'deny:Read(.env)']);
    expect(container.querySelector('[data-testid="rules-ask"]')).toBeNull();

    await act(async () => (container.querySelector('[data-rule="Bash(echo hi *)"] [data-testid="rule-remove"]') as HTMLElement).click());
    await settle();
    expect(calls[1]).toEqual({ method: 'PUT', url: '/api/permission-rules?project_path=%2Fp', body: { allow: ['WebFetch'], deny: ['Read(.env)'], ask: [], version: 'v1' } });
    expect(rows()).toEqual(['allow:WebFetch', 'deny:Read(.env)']);

    await act(async () => (container.querySelector('[data-rule="WebFetch"] [data-testid="rule-remove"]') as HTMLElement).click());
    await settle();
    expect(calls[2]).toMatchObject({ method: 'PUT', body: { allow: [], version: 'v2' } });
    expect(calls[3]).toMatchObject({ method: 'GET' });
    expect(container.querySelector('[data-testid="rules-note"]')?.textContent).toMatch(/^Changed elsewhere — reloaded/);
    expect(rows()).toEqual(['allow:WebFetch', 'allow:Bash(ls)', 'deny:Read(.env)']);

    await act(async () => (container.querySelector('[data-testid="rules-close"]') as HTMLElement).click());
    expect(onClose).toHaveBeenCalledTimes(1);
  });

  it('says when there is nothing kept', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => ok({ file: '/p/.claude/settings.local.json', allow: [], deny: [], ask: [], version: null })));
    await act(async () => root.render(<PermissionRulesPage projectPath="/p" onClose={() => {}} />));
    await settle();
    expect(container.querySelector('[data-testid="rules-empty"]')).not.toBeNull();
  });
});
