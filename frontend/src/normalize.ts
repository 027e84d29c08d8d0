// Normalisation of Claude's stream-json lines (live `output` content and on-disk transcript lines) into
// display items. Pure functions; unknown shapes degrade to `raw`/`system-note` items, never throw.

import { isObject } from './events';
import type { ItemBody, Usage } from './items';
import { imagesOf } from './images';

/** Items for one stdout line of claude (the `content` of an `output` event). */
export function normalizeOutput(content: unknown): ItemBody[] {
  if (typeof content === 'string') return content.trim() === '' ? [] : [{ kind: 'raw', text: content }];
  if (!isObject(content)) return [{ kind: 'raw', text: JSON.stringify(content) }];
  switch (content.type) {
    case 'system':
      // "status: requesting" comes with every API call: noise, the run status already says claude works
      if (content.subtype === 'status' && (content.status === 'requesting' || content.status === null || content.status === undefined)) return [];
      return [normalizeSystem(content)];
    case 'assistant':
      return normalizeMessageContent(content.message, 'assistant');
    case 'user':
      return normalizeMessageContent(content.message, 'user');
    case 'result':
      return [normalizeResult(content)];
    case 'stream_event':
      return []; // token deltas are folded into the streaming bubble by the reducer
    case 'control_response':
      // claude acknowledging the server's own control requests (initialize, interrupt): bookkeeping,
      // unless it reports an error
      return subtypeOf(content) === ' (error)' ? [{ kind: 'system-note', text: controlError(content) }] : [];
    case 'control_request':
    case 'control_cancel_request':
      return [{ kind: 'system-note', text: `${content.type}${subtypeOf(content)}` }];
    default:
      return [{ kind: 'raw', text: safeStringify(content) }];
  }
}

/** Items for one line of an on-disk transcript (`GET …/history`); bookkeeping lines give nothing. */
export function normalizeHistoryLine(line: unknown): ItemBody[] {
  if (!isObject(line)) return [];
  if (line.type === 'user' || line.type === 'assistant') {
    if (line.isMeta === true) return [];
    return normalizeMessageContent(line.message, line.type);
  }
  if (line.type === 'summary' && typeof line.summary === 'string') {
    return [{ kind: 'system-note', text: `summary: ${line.summary}` }];
  }
  return [];
}

/** Claude refused one of the server's control requests: which (a model or mode switch says so) and why. */
function controlError(o: Record<string, unknown>): string {
  const response = isObject(o.response) ? o.response : {};
  const id = typeof response.request_id === 'string' ? response.request_id : '';
  const why = typeof response.error === 'string' ? `: ${response.error}` : '';
  if (id.startsWith('set-model-')) return `Claude refused the model change${why}`;
  if (id.startsWith('set-mode-')) return `Claude refused the permission mode change${why}`;
  return `control_response (error)${why}`;
}

function subtypeOf(o: Record<string, unknown>): string {
  const req = isObject(o.request) ? o.request : isObject(o.response) ? o.response : null;
  const st = req && typeof req.subtype === 'string' ? req.subtype : null;
  return st ? ` (${st})` : '';
}

function normalizeSystem(o: Record<string, unknown>): ItemBody {
  if (o.subtype === 'init') {
    return {
      kind: 'system-init',
      model: typeof o.model === 'string' ? o.model : null,
      cwd: typeof o.cwd === 'string' ? o.cwd : null,
      tools: Array.isArray(o.tools) ? o.tools.length : 0,
    };
  }
  const subtype = typeof o.subtype === 'string' ? o.subtype : 'system';
  let detail = '';
  if (subtype === 'status' && typeof o.status === 'string') detail = `: ${o.status}`;
  if (subtype === 'api_retry') {
    const attempt = typeof o.attempt === 'number' ? ` attempt ${o.attempt}` : '';
    const delay = typeof o.retry_delay_ms === 'number' ? ` in ${o.retry_delay_ms} ms` : '';
    detail = `:${attempt}${delay}`;
  }
  return { kind: 'system-note', text: `${subtype}${detail}` };
}

function normalizeMessageContent(message: unknown, role: 'user' | 'assistant'): ItemBody[] {
  if (!isObject(message)) return [];
  const content = message.content;
  if (typeof content === 'string') {
    if (content.trim() === '') return [];
    return [role === 'user' ? { kind: 'user-text', text: content } : { kind: 'assistant-text', text: content }];
  }
  if (!Array.isArray(content)) return [];
  const out: ItemBody[] = [];
  for (const block of content) {
    const item = normalizeBlock(block, role);
    if (item) out.push(item);
  }
  return out;
}

function normalizeBlock(block: unknown, role: 'user' | 'assistant'): ItemBody | null {
  if (typeof block === 'string') {
    return role === 'user' ? { kind: 'user-text', text: block } : { kind: 'assistant-text', text: block };
  }
  if (!isObject(block)) return null;
  switch (block.type) {
    case 'text': {
      const text = typeof block.text === 'string' ? block.text : '';
      if (text === '') return null;
      return role === 'user' ? { kind: 'user-text', text } : { kind: 'assistant-text', text };
    }
    case 'thinking':
      return { kind: 'thinking', text: typeof block.thinking === 'string' ? block.thinking : '' };
    case 'redacted_thinking':
      return { kind: 'thinking', text: '(redacted thinking)' };
    case 'tool_use':
    case 'server_tool_use':
      return {
        kind: 'tool-use',
        id: typeof block.id === 'string' ? block.id : '',
        name: typeof block.name === 'string' ? block.name : '(tool)',
        input: block.input,
      };
    case 'tool_result':
      return {
        kind: 'tool-result',
        toolUseId: typeof block.tool_use_id === 'string' ? block.tool_use_id : '',
        content: toolResultText(block.content),
        isError: block.is_error === true,
      };
    case 'image': {
      // a picture the user sent (base64 source): shown in the user's bubble
      const source = isObject(block.source) ? block.source : null;
      const images = role === 'user' && source?.type === 'base64' ? imagesOf([{ media_type: source.media_type, data: source.data }]) : [];
      return images.length ? { kind: 'user-text', text: '', images } : { kind: 'system-note', text: '(image)' };
    }
    default:
      return { kind: 'raw', text: safeStringify(block) };
  }
}

/** Tool result content is a string or a list of blocks (text, image, …). */
export function toolResultText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((b) => (isObject(b) && typeof b.text === 'string' ? b.text : isObject(b) && b.type === 'image' ? '(image)' : safeStringify(b)))
      .join('\n');
  }
  if (content === undefined || content === null) return '';
  return safeStringify(content);
}

function normalizeResult(o: Record<string, unknown>): ItemBody {
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
  const usage = isObject(o.usage) ? (o.usage as Usage) : null;
  return {
    kind: 'result',
    isError: o.is_error === true,
    subtype: typeof o.subtype === 'string' ? o.subtype : null,
    durationMs: num(o.duration_ms),
    numTurns: num(o.num_turns),
    costUsd: num(o.total_cost_usd),
    usage,
    text: typeof o.result === 'string' ? o.result : null,
  };
}

export function safeStringify(v: unknown): string {
  try {
    return JSON.stringify(v, null, 2) ?? String(v);
  } catch {
    return String(v);
  }
}
