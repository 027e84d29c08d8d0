// The MCP form's KEY=value / "Name: value" lines, and the query strings the panes send.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { api } from './api';
import { pairs } from './components/Mcp';

describe('pairs', () => {
  it('reads environment and header lines, skipping blank ones', () => {
    expect(pairs('A=1\n\n B = two=2 \n', '=')).toEqual({ A: '1', B: 'two=2' });
    expect(pairs('Authorization: Bearer x:y', ':')).toEqual({ Authorization: 'Bearer x:y' });
  });
  it('says which line is wrong', () => {
    expect(pairs('A=1\nnope', '=')).toBe('"nope" is not KEY=value');
    expect(pairs(': x', ':')).toBe('": x" is not Name: value');
  });
});

describe('pane requests', () => {
  afterEach(() => vi.unstubAllGlobals());
  const capture = () => {
    const calls: [string, RequestInit][] = [];
    vi.stubGlobal('fetch', async (url: string, init: RequestInit) => {
      calls.push([url, init]);
      return new Response(JSON.stringify({ success: true, data: {}, error: null }));
    });
    return calls;
  };
  it('name the file and the scope in the query, the project only where it belongs', async () => {
    const calls = capture();
    await api.claudeMd('/p q', { scope: 'project', path: 'docs/CLAUDE.md' });
    await api.claudeMd('/p', { scope: 'user' });
    await api.removeMcp('a b', 'user', '/p');
    await api.testMcp('x', 'local', '/p');
    expect(calls.map(([u]) => u)).toEqual([
      '/api/claude-md/file?project_path=%2Fp+q&path=docs%2FCLAUDE.md',
      '/api/claude-md/file?scope=user',
      '/api/mcp/servers/a%20b?scope=user',
      '/api/mcp/servers/x/test?scope=local&project_path=%2Fp',
    ]);
    await api.saveClaudeMd('/p', { scope: 'user' }, 'text', 'v1');
    expect(calls[4][1].method).toBe('PUT');
    expect(JSON.parse(String(calls[4][1].body))).toEqual({ content: 'text', version: 'v1' });
  });
});
