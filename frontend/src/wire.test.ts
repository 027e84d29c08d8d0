// The wire format, checked against the same snapshot files as the Rust encoder's test
// (crates/opcode-proto/tests/wire_snapshots.rs), so the server and these types cannot drift apart:
// - every recorded event parses into a known SessionEvent whose fields are exactly those of its TypeScript
//   interface, with values of the interface's types (a field added or renamed on either side fails here);
// - the recorded events, one session from `start` to `completion`, go through the reducer as expected;
// - every recorded request is one the UI's request types describe.
// The field specs below are typed from the interfaces (`Spec<E>`): `npm test` type-checks before it runs, so
// an interface that changes without its spec does not compile.

import { describe, expect, it } from 'vitest';
import type {
  ClaudeRequest,
  CommandType,
  CompletionStatus,
  ControlMessage,
  ImageAttachment,
  PermissionResolvedEvent,
  RunOptions,
  SessionEvent,
} from './events';
import { isObject, parseFrame } from './events';
import { initialState, reducer } from './reducer';

const raw = (files: Record<string, string>) =>
  Object.fromEntries(Object.entries(files).map(([path, text]) => [path.split('/').pop()!, text]));
const EVENTS = raw(
  import.meta.glob('../../crates/opcode-proto/tests/snapshots/events/*.json', {
    query: '?raw',
    import: 'default',
    eager: true,
  }) as Record<string, string>,
);
const REQUESTS = raw(
  import.meta.glob('../../crates/opcode-proto/tests/snapshots/requests/*.json', {
    query: '?raw',
    import: 'default',
    eager: true,
  }) as Record<string, string>,
);

/** What a field's value must be, derived from its TypeScript type. */
type Check<V> = unknown extends V
  ? 'unknown'
  : [V] extends [string]
    ? 'string'
    : [V] extends [number]
      ? 'number'
      : [V] extends [boolean]
        ? 'boolean'
        : [V] extends [string | null]
          ? 'string|null'
          : [V] extends [number | null]
            ? 'number|null'
            : [V] extends [ImageAttachment[]]
              ? 'images'
              : [V] extends [string[]]
                ? 'string[]'
                : [V] extends [object]
                  ? 'object'
                  : never;
type Field<E, K extends keyof E> = {} extends Pick<E, K> ? `${Check<Exclude<E[K], undefined>>}?` : Check<E[K]>;
/** Every field of `E` but `type`, each with its check; an object literal of this type names exactly E's fields. */
type Spec<E> = { [K in Exclude<keyof E, 'type'>]-?: Field<E, K> };
type Known = Exclude<SessionEvent['type'], '__unknown'>;
type EventOf<T extends Known> = Extract<SessionEvent, { type: T }>;

const base = { session_id: 'string', seq: 'number' } as const;
const EVENT_SPECS: { [T in Known]: Spec<EventOf<T>> } = {
  start: {
    ...base,
    message: 'string',
    command_type: 'string',
    project_path: 'string',
    model: 'string|null',
    live: 'boolean?',
    permission_mode: 'string|null?',
  },
  user_prompt: { ...base, prompt: 'string', client_id: 'string|null?', images: 'images?' },
  prompt_queued: { ...base, client_id: 'string', prompt: 'string', images: 'images?' },
  prompt_unqueued: { ...base, client_id: 'string' },
  permission_request: {
    ...base,
    request_id: 'string',
    tool_name: 'string',
    input: 'unknown',
    tool_use_id: 'string|null',
    description: 'string|null',
    timeout_ms: 'number|null',
    expires_at: 'number|null',
    remember: 'unknown?',
  },
  permission_resolved: {
    ...base,
    request_id: 'string',
    behavior: 'string',
    by: 'string',
    message: 'string|null',
    remembered: 'boolean?',
  },
  settings_changed: { ...base, model: 'string|null', permission_mode: 'string|null' },
  output: { ...base, content: 'unknown' },
  error: { ...base, message: 'string' },
  cancelled: { ...base },
  completion: { ...base, status: 'string', exit_code: 'number|null', signal: 'number|null', error: 'string|null?' },
};

/** The values of the string unions the server must keep to (a Record over the union names each exactly once). */
const COMMAND_TYPES: Record<CommandType, true> = { execute: true, continue: true, resume: true };
const STATUSES: Record<CompletionStatus, true> = { success: true, error: true, cancelled: true };
const BEHAVIORS: Record<PermissionResolvedEvent['behavior'], true> = { allow: true, deny: true };

function matches(value: unknown, check: string): boolean {
  const type = check.replace(/\?$/, '');
  if (type === 'unknown') return value !== undefined;
  if (type === 'images') {
    const types = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'];
    return (
      Array.isArray(value) &&
      value.length > 0 &&
      value.every((i) => isObject(i) && types.includes(i.media_type as string) && typeof i.data === 'string' && Object.keys(i).length === 2)
    );
  }
  if (type === 'string[]') return Array.isArray(value) && value.every((v) => typeof v === 'string');
  if (type === 'object') return isObject(value);
  return type.split('|').some((t) => (t === 'null' ? value === null : typeof value === t));
}

/** Problems of `value` against `spec`: missing, extra or mistyped fields. */
function problems(value: Record<string, unknown>, spec: Record<string, string>): string[] {
  const found: string[] = [];
  for (const [key, check] of Object.entries(spec)) {
    if (!(key in value)) {
      if (!check.endsWith('?')) found.push(`missing ${key}`);
    } else if (!matches(value[key], check)) {
      found.push(`${key}: ${JSON.stringify(value[key])} is not ${check}`);
    }
  }
  for (const key of Object.keys(value)) if (key !== 'type' && !(key in spec)) found.push(`unknown field ${key}`);
  return found;
}

const parsed = (name: string): SessionEvent => {
  const frame = parseFrame(EVENTS[name]);
  if (frame.kind !== 'event') throw new Error(`${name} is not an event: ${JSON.stringify(frame)}`);
  return frame.event;
};
const eventFiles = () => Object.keys(EVENTS).filter((n) => n !== 'request_error.json');

describe('wire: the server events recorded by the Rust encoder', () => {
  it('are there: one file per kind the UI knows, and nothing else', () => {
    const types = eventFiles().map((n) => JSON.parse(EVENTS[n]).type as string);
    expect(new Set(types)).toEqual(new Set(Object.keys(EVENT_SPECS)));
    expect(Object.keys(EVENTS)).toContain('request_error.json');
  });

  for (const name of Object.keys(EVENT_SPECS).flatMap((t) => [`${t}.json`, `${t}_json.json`, `${t}_text.json`])) {
    if (!(name in EVENTS)) continue; // the file list itself is checked above
    it(`${name} parses into its TypeScript type, field by field`, () => {
      const event = parsed(name);
      expect(event.type).not.toBe('__unknown');
      const spec: Record<string, string> = EVENT_SPECS[event.type as Known];
      expect(problems(event as unknown as Record<string, unknown>, spec)).toEqual([]);
    });
  }

  it('string unions hold the values the server sends', () => {
    expect(COMMAND_TYPES).toHaveProperty((parsed('start.json') as EventOf<'start'>).command_type);
    expect(STATUSES).toHaveProperty((parsed('completion.json') as EventOf<'completion'>).status);
    expect(BEHAVIORS).toHaveProperty((parsed('permission_resolved.json') as EventOf<'permission_resolved'>).behavior);
  });

  it('a request error is told apart from a session event', () => {
    const frame = parseFrame(EVENTS['request_error.json']);
    expect(frame).toEqual({
      kind: 'request-error',
      error: {
        type: 'error',
        message: 'project_path must be an absolute path',
        session_id: '11111111-2222-4333-8444-555555555555',
      },
    });
  });

  it('as one session, go through the reducer from start to completion', () => {
    const events = eventFiles()
      .map(parsed)
      .sort((a, b) => a.seq - b.seq);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i));
    const id = events[0].session_id;
    let state = reducer(initialState, { type: 'open', key: id, sessionId: id, projectPath: '/elsewhere' });
    // start first (a fresh tab takes the first event it gets), then the rest in reverse: the reducer buffers
    // until each gap fills, so their order of arrival does not matter
    state = reducer(state, { type: 'events', events: [events[0], ...events.slice(1).reverse()] });
    const s = state.sessions[id];
    expect(s.lastSeq).toBe(events.length - 1);
    expect(s.pending).toEqual([]);
    expect(s.items.map((i) => i.kind)).toEqual([
      'run-start',
      'user-text',
      'tool-use',
      'approval',
      'settings',
      'raw',
      'error',
      'cancelled',
      'completion',
    ]);
    expect(s.status).toBe('cancelled');
    expect(s.live).toBe(true);
    expect(s.permissionMode).toBe('acceptEdits');
    expect(s.projectPath).toBe('/home/dev/project "q"');
    // the settings_changed after the start: the model and mode switched between turns
    expect(s.model).toBe('sonnet');
    expect(s.approvals).toEqual([]);
    const byKind = <K extends string>(kind: K) => s.items.find((i) => i.kind === kind) as Extract<typeof s.items[number], { kind: K }>;
    expect(byKind('user-text').text).toBe('list the files\nall of them');
    // the image sent with the prompt is in its bubble
    expect(byKind('user-text').images).toEqual([{ media_type: 'image/png', data: expect.stringMatching(/^iVBORw0KGgo/) }]);
    expect(byKind('tool-use')).toMatchObject({ id: 'toolu_01', name: 'Bash', input: { command: 'ls -a' } });
    expect(byKind('approval')).toMatchObject({
      requestId: 'req-1',
      toolName: 'Bash',
      input: { command: 'ls -a' },
      description: 'List files',
      resolution: { behavior: 'allow', by: 'viewer', message: null },
    });
    expect(byKind('settings')).toMatchObject({ model: 'sonnet', permissionMode: 'acceptEdits' });
    expect(byKind('raw').text).toBe('a line that is not JSON: {');
    expect(byKind('error').message).toBe('claude stderr: warning ✓');
    expect(byKind('completion')).toMatchObject({ status: 'cancelled', exitCode: null, signal: 15 });
  });
});

type Control<T extends ControlMessage['type']> = Extract<ControlMessage, { type: T }>;
const CONTROL_SPECS: { [T in ControlMessage['type']]: Spec<Control<T>> } = {
  prompt: { session_id: 'string', prompt: 'string', client_id: 'string?', images: 'images?' },
  edit_queued: { session_id: 'string', client_id: 'string', prompt: 'string' },
  unqueue: { session_id: 'string', client_id: 'string' },
  permission_response: {
    session_id: 'string',
    request_id: 'string',
    behavior: 'string',
    updated_input: 'unknown?',
    message: 'string?',
    remember: 'boolean?',
  },
  interrupt: { session_id: 'string' },
  end: { session_id: 'string' },
  settings: { session_id: 'string', model: 'string?', permission_mode: 'string?' },
};
const REQUEST_SPEC: Spec<ClaudeRequest> = {
  command_type: 'string',
  project_path: 'string',
  prompt: 'string',
  model: 'string?',
  session_id: 'string?',
  include_partial_messages: 'boolean?',
  live: 'boolean?',
  permission_mode: 'string?',
  images: 'images?',
  run_options: 'object?',
};
const RUN_OPTIONS_SPEC: Spec<RunOptions> = {
  append_system_prompt: 'string?',
  allowed_tools: 'string[]?',
  disallowed_tools: 'string[]?',
};

describe('wire: the requests the Rust server reads as meant', () => {
  it('are there', () => {
    expect(Object.keys(REQUESTS).length).toBeGreaterThanOrEqual(8);
  });

  for (const [name, text] of Object.entries(REQUESTS)) {
    it(`${name} is described by the UI's request types`, () => {
      const value: unknown = JSON.parse(text);
      if (!isObject(value)) throw new Error(`${name} is not an object`);
      if (typeof value.type === 'string') {
        const spec: Record<string, string> | undefined = CONTROL_SPECS[value.type as ControlMessage['type']];
        expect(spec, `control message type ${value.type}`).toBeDefined();
        expect(problems(value, spec!)).toEqual([]);
        if (value.type === 'permission_response') expect(BEHAVIORS).toHaveProperty(value.behavior as string);
      } else {
        expect(problems(value, REQUEST_SPEC)).toEqual([]);
        if (isObject(value.run_options)) expect(problems(value.run_options, RUN_OPTIONS_SPEC)).toEqual([]);
        expect(COMMAND_TYPES).toHaveProperty(value.command_type as string);
      }
    });
  }
});
