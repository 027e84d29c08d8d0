// One transcript item, rendered by kind: user and assistant text (Markdown), thinking, tool calls and their
// collapsible results, system notes, errors, run start / cancel / completion, and the result summary.

import { memo, useMemo } from 'react';
import type { Item } from '../items';
import { renderMarkdown } from '../markdown';
import { safeStringify } from '../normalize';
import { ApprovalEntry } from './Approval';
import { ResultSummary } from './ResultSummary';
import { imageSrc } from '../images';

export const Markdown = memo(function Markdown({ text }: { text: string }) {
  const html = useMemo(() => renderMarkdown(text), [text]);
  return <div className="md" dangerouslySetInnerHTML={{ __html: html }} />;
});

function toolInputSummary(input: unknown): string | null {
  if (typeof input !== 'object' || input === null) return null;
  const o = input as Record<string, unknown>;
  for (const k of ['command', 'file_path', 'path', 'pattern', 'url', 'query', 'description']) {
    if (typeof o[k] === 'string') return o[k] as string;
  }
  return null;
}

export const MessageView = memo(function MessageView({ item }: { item: Item }) {
  switch (item.kind) {
    case 'user-text':
      return (
        <div className={`msg msg-user ${item.optimistic ? 'is-sending' : ''}`} data-testid="message-user">
          <div className="bubble">
            {item.images?.length ? (
              <div className="bubble-images">
                {item.images.map((image, i) => (
                  <img key={i} src={imageSrc(image)} alt={`Image ${i + 1} sent with the prompt`} data-testid="message-image" data-media-type={image.media_type} />
                ))}
              </div>
            ) : null}
            {item.text}
          </div>
        </div>
      );
    case 'assistant-text':
      return (
        <div className="msg msg-assistant" data-testid="message-assistant">
          <Markdown text={item.text} />
          {item.partial && <span className="badge">partial</span>}
        </div>
      );
    case 'thinking':
      return (
        <details className="msg msg-thinking" data-testid="thinking">
          <summary>Thinking</summary>
          <div className="pre-wrap">{item.text}</div>
        </details>
      );
    case 'tool-use': {
      const summary = toolInputSummary(item.input);
      return (
        <div className="msg msg-tool" data-testid="tool-use">
          <div className="tool-head">
            <span className="tool-name">{item.name}</span>
            {summary && <code className="tool-summary">{summary}</code>}
          </div>
          <details>
            <summary>Input</summary>
            <pre>{safeStringify(item.input)}</pre>
          </details>
        </div>
      );
    }
    case 'tool-result': {
      const lines = item.content === '' ? 0 : item.content.split('\n').length;
      return (
        <details className={`msg msg-tool-result ${item.isError ? 'is-error' : ''}`} data-testid="tool-result">
          <summary>
            {item.isError ? 'Tool error' : 'Tool result'} · {lines} line{lines === 1 ? '' : 's'}
          </summary>
          <pre>{item.content}</pre>
        </details>
      );
    }
    case 'system-init':
      return (
        <div className="msg msg-system" data-testid="system-init">
          Session initialised{item.model ? ` · ${item.model}` : ''}
          {item.cwd ? ` · ${item.cwd}` : ''}
          {item.tools ? ` · ${item.tools} tools` : ''}
        </div>
      );
    case 'system-note':
      return (
        <div className="msg msg-system" data-testid="system-note">
          {item.text}
        </div>
      );
    case 'settings':
      return (
        <div className="msg msg-system" data-testid="settings-changed">
          {[
            item.model ? `Model changed to ${item.model}` : null,
            item.permissionMode ? `Permission mode: ${item.permissionMode}` : null,
          ]
            .filter(Boolean)
            .join(' · ')}
        </div>
      );
    case 'raw':
      return (
        <pre className="msg msg-raw" data-testid="message-raw">
          {item.text}
        </pre>
      );
    case 'error':
      return (
        <div className="msg msg-error" data-testid="message-error" role="alert">
          <span aria-hidden="true">⚠ </span>
          <span className="pre-wrap">{item.message}</span>
          {item.hint && (
            <p className="error-hint" data-testid="error-hint">
              {item.hint}
            </p>
          )}
        </div>
      );
    case 'run-start':
      return (
        <div className="msg msg-system msg-run-start" data-testid="run-start">
          ▶ {item.commandType}
          {item.live ? ' · live' : ''}
          {item.model ? ` · ${item.model}` : ''}
          {item.message ? ` · ${item.message}` : ''}
        </div>
      );
    case 'cancelled':
      return (
        <div className="msg msg-cancelled" data-testid="message-cancelled">
          Run cancelled
        </div>
      );
    case 'completion':
      return (
        <div className={`msg msg-system msg-completion status-${item.status}`} data-testid="completion">
          Run ended: {item.status}
          {item.exitCode !== null ? ` · exit ${item.exitCode}` : ''}
          {item.signal !== null ? ` · signal ${item.signal}` : ''}
        </div>
      );
    case 'result':
      return (
        <ResultSummary
          isError={item.isError}
          subtype={item.subtype}
          durationMs={item.durationMs}
          numTurns={item.numTurns}
          costUsd={item.costUsd}
          usage={item.usage}
          interrupted={item.interrupted}
        />
      );
    case 'approval':
      return <ApprovalEntry item={item} />;
  }
});

export const StreamingView = memo(function StreamingView({ text, thinking }: { text: string; thinking: string }) {
  return (
    <div className="msg msg-assistant msg-streaming" data-testid="message-streaming" aria-live="polite">
      {thinking && <div className="pre-wrap thinking-live">{thinking}</div>}
      <div className="pre-wrap">{text}</div>
      <span className="cursor" aria-hidden="true" />
    </div>
  );
});
