// Display items: what a transcript is made of once stream-json lines, session events and history lines
// have been normalised (see normalize.ts). Each item has a stable `key` so React can memoise it.

import type { ImageAttachment } from './events';

export interface Usage {
  input_tokens?: number;
  output_tokens?: number;
  cache_creation_input_tokens?: number;
  cache_read_input_tokens?: number;
}

export type ItemBody =
  | { kind: 'user-text'; text: string; optimistic?: boolean; images?: ImageAttachment[] }
  | { kind: 'assistant-text'; text: string; partial?: boolean }
  | { kind: 'thinking'; text: string }
  | { kind: 'tool-use'; id: string; name: string; input: unknown }
  | { kind: 'tool-result'; toolUseId: string; content: string; isError: boolean }
  | { kind: 'system-init'; model: string | null; cwd: string | null; tools: number }
  | { kind: 'system-note'; text: string }
  /** A viewer switched the live session's model and/or permission mode (null: unchanged). */
  | { kind: 'settings'; model: string | null; permissionMode: string | null }
  | {
      kind: 'result';
      isError: boolean;
      subtype: string | null;
      durationMs: number | null;
      numTurns: number | null;
      costUsd: number | null;
      usage: Usage | null;
      text: string | null;
      /** The turn ended because a viewer interrupted it (not an error). */
      interrupted?: boolean;
    }
  | { kind: 'raw'; text: string }
  | { kind: 'error'; message: string; hint?: string }
  | { kind: 'run-start'; message: string; commandType: string; model: string | null; live?: boolean }
  | { kind: 'cancelled' }
  | { kind: 'completion'; status: string; exitCode: number | null; signal: number | null }
  | {
      kind: 'approval';
      requestId: string;
      toolName: string;
      input: unknown;
      description: string | null;
      /** null while pending. */
      resolution: Resolution | null;
      /** The run ended without a `permission_resolved` for it. */
      orphaned?: boolean;
    };

export interface Resolution {
  behavior: 'allow' | 'deny';
  by: string;
  message: string | null;
  /** The allow was kept for the project ("always allow"). */
  remembered?: boolean;
}

/** A permission request waiting for an answer (pinned above the prompt box). */
export interface PendingApproval {
  requestId: string;
  toolName: string;
  input: unknown;
  toolUseId: string | null;
  description: string | null;
  timeoutMs: number | null;
  /** Unix ms, server clock; null when unknown. */
  expiresAt: number | null;
  seq: number;
  /** The rules "always allow" would keep (`Bash(npm test:*)`, `WebFetch`); empty when none. */
  rememberRules?: string[];
}

/** A prompt of ours (or, once queued, anyone's) that claude has not received yet. */
export interface Outgoing {
  clientId: string;
  text: string;
  /** waiting: no connection, goes out when it is back; sending: handed over, not confirmed yet; queued: the
   *  server holds it until the running turn ends; failed: refused (the message says why). */
  state: 'waiting' | 'sending' | 'queued' | 'failed';
  error?: string;
}

export type Item = ItemBody & { key: string };
export type ItemKind = ItemBody['kind'];
