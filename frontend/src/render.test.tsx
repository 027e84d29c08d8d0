// Rendering of each item kind (data-testids the e2e relies on), the result summary, and Markdown safety.
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { ConnIndicator } from './components/ConnIndicator';
import { MessageView, StreamingView } from './components/MessageView';
import { formatCost, formatDuration } from './components/ResultSummary';
import { Transcript, WINDOW_STEP } from './components/Transcript';
import type { Item } from './items';
import { renderMarkdown } from './markdown';
import { normalizeOutput } from './normalize';
import { assistantText, assistantToolUse, init, resultLine, userToolResult } from './test/fixtures';

const html = (item: Item) => renderToStaticMarkup(<MessageView item={item} />);
const first = (content: unknown): Item => ({ ...normalizeOutput(content)[0], key: 'k' }) as Item;

describe('MessageView', () => {
  it('assistant text renders Markdown with code blocks', () => {
    const out = html(first(assistantText('Some **bold**\n\n```js\nconst a = 1;\n```')));
    expect(out).toContain('data-testid="message-assistant"');
    expect(out).toContain('<strong>bold</strong>');
    expect(out).toMatch(/<pre><code class="language-js">const a = 1;/);
  });

  it('tool_use shows the name and input; tool_result is collapsible', () => {
    const use = html(first(assistantToolUse()));
    expect(use).toContain('data-testid="tool-use"');
    expect(use).toContain('Bash');
    expect(use).toContain('echo hi');
    const res = html(first(userToolResult('hi\nthere', true)));
    expect(res).toMatch(/^<details[^>]*data-testid="tool-result"/);
    expect(res).toContain('Tool error');
    expect(res).toContain('2 lines');
  });

  it('error events are visible alerts', () => {
    const out = html({ kind: 'error', message: 'fake stderr 0', key: 'e' });
    expect(out).toContain('data-testid="message-error"');
    expect(out).toContain('role="alert"');
    expect(out).toContain('fake stderr 0');
  });

  it('result line summary shows duration, turns, cost and tokens', () => {
    const out = html(first(resultLine()));
    expect(out).toContain('data-testid="result-summary"');
    expect(out).toContain('146 ms');
    expect(out).toContain('1 turn');
    expect(out).toContain('$0.0002');
    expect(out).toContain('in 10 / out 6 tokens');
    expect(html(first(resultLine({ is_error: true, subtype: 'error_during_execution' })))).toContain('error (error_during_execution)');
  });

  it('system init, thinking, raw lines, cancel and completion', () => {
    expect(html(first(init()))).toContain('claude-test');
    expect(html({ kind: 'thinking', text: 'pondering', key: 't' })).toMatch(/<details[^>]*data-testid="thinking"/);
    expect(html(first('not json'))).toContain('data-testid="message-raw"');
    expect(html({ kind: 'cancelled', key: 'c' })).toContain('data-testid="message-cancelled"');
    expect(html({ kind: 'completion', status: 'error', exitCode: 3, signal: null, key: 'c' })).toContain('exit 3');
  });

  it('the streaming bubble shows plain text', () => {
    const out = renderToStaticMarkup(<StreamingView text="Hel<b>" thinking="" />);
    expect(out).toContain('data-testid="message-streaming"');
    expect(out).toContain('Hel&lt;b&gt;');
  });
});

describe('Markdown safety', () => {
  it('strips scripts and event handlers', () => {
    const out = renderMarkdown('<img src=x onerror="alert(1)"><script>alert(2)</script>[a](javascript:alert(3))');
    expect(out).not.toContain('onerror');
    expect(out).not.toContain('<script');
    expect(out).not.toContain('javascript:');
  });
});

describe('ConnIndicator and formatters', () => {
  it('shows exactly connected / reconnecting / closed', () => {
    const text = (s: Parameters<typeof ConnIndicator>[0]['state']) =>
      renderToStaticMarkup(<ConnIndicator state={s} />).match(/data-testid="conn-state">([^<]*)</)?.[1];
    expect(text('connected')).toBe('connected');
    expect(text('reconnecting')).toBe('reconnecting');
    expect(text('connecting')).toBe('reconnecting');
    expect(text('closed')).toBe('closed');
  });

  it('formats durations and costs', () => {
    expect(formatDuration(146)).toBe('146 ms');
    expect(formatDuration(2500)).toBe('2.5 s');
    expect(formatDuration(125000)).toBe('2 min 5 s');
    expect(formatCost(0.00016)).toBe('$0.0002');
    expect(formatCost(1.234)).toBe('$1.23');
  });
});

describe('Transcript windowing', () => {
  it('mounts only the last WINDOW_STEP items and offers the earlier ones', () => {
    const items: Item[] = Array.from({ length: 500 }, (_, i) => ({ kind: 'user-text', text: `m${i}`, key: `k${i}` }));
    const out = renderToStaticMarkup(<Transcript history={[]} items={items} streaming={null} canLoadOlder={false} onLoadOlder={() => {}} />);
    expect(out.match(/data-testid="message-user"/g)).toHaveLength(WINDOW_STEP);
    expect(out).toContain('Show earlier (300)');
    expect(out).toContain('>m499<');
    expect(out).not.toContain('>m299<');
  });

  it('offers older history pages once everything loaded is shown', () => {
    const history: Item[] = [{ kind: 'user-text', text: 'old', key: 'h0:0' }];
    const out = renderToStaticMarkup(<Transcript history={history} items={[]} streaming={{ text: 'typing', thinking: '' }} canLoadOlder onLoadOlder={() => {}} />);
    expect(out).toContain('data-testid="load-older"');
    expect(out).toContain('data-testid="message-streaming"');
  });
});
