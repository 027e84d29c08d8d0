// A shell in the session's project folder, on the server's pseudo-terminal, drawn by xterm.js (loaded
// only when the pane opens: a dynamic import keeps it out of the main bundle). The pane reuses the
// project's first open terminal (a reload reattaches to the same screen: the server sends it first) or
// starts one; it fits its box and tells the server the size; a row of extra keys (Esc, Tab, Ctrl,
// arrows, ^C) stands in for what phone keyboards lack. A dropped socket is reopened; "Close" kills the
// shell and everything it started.

import { useEffect, useRef, useState } from 'react';
import { api, ApiError, errorSentence, type TerminalInfo } from '../api';
import '@xterm/xterm/css/xterm.css';

type Phase = 'starting' | 'open' | 'reconnecting' | 'closed' | 'off' | 'error';

const KEYS: { label: string; seq: string; testid: string; title: string }[] = [
  { label: 'Esc', seq: '\x1b', testid: 'key-esc', title: 'Escape' },
  { label: 'Tab', seq: '\t', testid: 'key-tab', title: 'Tab (complete)' },
  { label: '←', seq: '\x1b[D', testid: 'key-left', title: 'Left' },
  { label: '↑', seq: '\x1b[A', testid: 'key-up', title: 'Up (history)' },
  { label: '↓', seq: '\x1b[B', testid: 'key-down', title: 'Down' },
  { label: '→', seq: '\x1b[C', testid: 'key-right', title: 'Right' },
  { label: '^C', seq: '\x03', testid: 'key-ctrl-c', title: 'Interrupt (Ctrl-C)' },
];

/** The control character Ctrl+`key` sends (Ctrl-C → 0x03), or `key` itself when it has none. */
export function withCtrl(key: string): string {
  if (key.length !== 1) return key;
  const code = key.toUpperCase().charCodeAt(0);
  if (code >= 64 && code <= 95) return String.fromCharCode(code - 64);
  if (key === ' ') return '\x00';
  return key;
}

/** A key of the extra row must not take the focus from the terminal (the phone keyboard would close). */
function keepFocus(e: { preventDefault: () => void }) {
  e.preventDefault();
}

function socketUrl(id: string): string {
  const scheme = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${window.location.host}/ws/terminals/${encodeURIComponent(id)}`;
}

export default function TerminalPane({ projectPath, onClose }: { projectPath: string; onClose: () => void }) {
  const box = useRef<HTMLDivElement>(null);
  const [phase, setPhase] = useState<Phase>('starting');
  const [message, setMessage] = useState<string | null>(null);
  const [terminal, setTerminal] = useState<TerminalInfo | null>(null);
  const [ctrl, setCtrl] = useState(false);
  const ctrlRef = useRef(false);
  ctrlRef.current = ctrl;
  const send = useRef<(data: string) => void>(() => {});
  const [generation, setGeneration] = useState(0);

  useEffect(() => {
    let disposed = false;
    let socket: WebSocket | null = null;
    let retry: ReturnType<typeof setTimeout> | null = null;
    let observer: ResizeObserver | null = null;
    let dispose = () => {};
    const encoder = new TextEncoder();

    (async () => {
      let info: TerminalInfo;
      try {
        const open = await api.terminals(projectPath);
        info = open[0] ?? (await api.createTerminal(projectPath));
      } catch (e) {
        if (disposed) return;
        if (e instanceof ApiError && e.status === 403) {
          setPhase('off');
          setMessage(e.message);
        } else {
          setPhase('error');
          setMessage(`Could not start a terminal: ${errorSentence(e)}`);
        }
        return;
      }
      const [{ Terminal }, { FitAddon }] = await Promise.all([import('@xterm/xterm'), import('@xterm/addon-fit')]);
      if (disposed || !box.current) return;
      setTerminal(info);
      const term = new Terminal({
        cursorBlink: true,
        fontSize: 13,
        fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, monospace',
        scrollback: 5000,
        theme: { background: '#111418' },
      });
      const fit = new FitAddon();
      term.loadAddon(fit);
      term.open(box.current);
      const sendResize = () => {
        if (socket?.readyState === WebSocket.OPEN) {
          socket.send(JSON.stringify({ type: 'resize', rows: term.rows, cols: term.cols }));
        }
      };
      const refit = () => {
        try {
          fit.fit();
        } catch {
          // not laid out yet
        }
        sendResize();
      };
      send.current = (data: string) => {
        if (socket?.readyState === WebSocket.OPEN) socket.send(encoder.encode(data));
      };
      term.onData((data) => {
        if (ctrlRef.current) {
          setCtrl(false);
          send.current(withCtrl(data));
        } else {
          send.current(data);
        }
      });
      observer = new ResizeObserver(() => refit());
      observer.observe(box.current);

      const connect = () => {
        if (disposed) return;
        const ws = new WebSocket(socketUrl(info.id));
        ws.binaryType = 'arraybuffer';
        socket = ws;
        ws.onopen = () => {
          setPhase('open');
          setMessage(null);
          refit();
          term.focus();
        };
        ws.onmessage = (ev) => {
          if (typeof ev.data === 'string') {
            try {
              const m = JSON.parse(ev.data) as { type?: string; message?: string };
              if (m.type === 'error') setMessage(m.message ?? 'error');
            } catch {
              // not ours
            }
            return;
          }
          term.write(new Uint8Array(ev.data as ArrayBuffer));
        };
        ws.onclose = (ev) => {
          if (disposed || socket !== ws) return;
          if (ev.code === 4000) {
            setPhase('closed');
            setMessage('The shell has exited.');
            return;
          }
          setPhase('reconnecting');
          // the server keeps the terminal: attach again (it sends the screen first)
          retry = setTimeout(connect, 1000);
        };
      };
      connect();
      dispose = () => {
        term.dispose();
      };
    })();

    return () => {
      disposed = true;
      if (retry) clearTimeout(retry);
      observer?.disconnect();
      const s = socket;
      socket = null;
      s?.close();
      dispose();
      send.current = () => {};
    };
  }, [projectPath, generation]);

  const closeTerminal = async () => {
    if (!terminal) return;
    try {
      await api.closeTerminal(terminal.id);
      setPhase('closed');
      setMessage('Terminal closed: the shell and everything it started were stopped.');
    } catch (e) {
      setMessage(`Could not close the terminal: ${errorSentence(e)}`);
    }
  };

  return (
    <section className="terminal-pane" data-testid="terminal-pane" data-phase={phase} data-terminal-id={terminal?.id ?? ''}>
      <div className="terminal-bar">
        <span className="terminal-title" title={projectPath}>
          Terminal · {projectPath}
        </span>
        {phase === 'reconnecting' && <span className="terminal-note">reconnecting…</span>}
        {(phase === 'open' || phase === 'reconnecting') && (
          <button type="button" className="btn btn-small" data-testid="terminal-close" onClick={() => void closeTerminal()}>
            Close
          </button>
        )}
        {phase === 'closed' && (
          <button
            type="button"
            className="btn btn-small"
            data-testid="terminal-new"
            onClick={() => {
              setTerminal(null);
              setPhase('starting');
              setMessage(null);
              setGeneration((g) => g + 1);
            }}
          >
            New terminal
          </button>
        )}
        <button type="button" className="btn btn-small btn-ghost" data-testid="terminal-hide" onClick={onClose}>
          Hide
        </button>
      </div>
      {message && (
        <p className="terminal-message" data-testid="terminal-message" role="status">
          {message}
        </p>
      )}
      {phase !== 'off' && phase !== 'error' && phase !== 'closed' && (
        <>
          <div className="terminal-box" ref={box} data-testid="terminal-screen" />
          <div className="terminal-keys" data-testid="terminal-keys">
            <button
              type="button"
              className={`key${ctrl ? ' key-on' : ''}`}
              data-testid="key-ctrl"
              aria-pressed={ctrl}
              title="Ctrl: the next key is sent with Ctrl"
              onPointerDown={keepFocus}
              onClick={() => setCtrl((v) => !v)}
            >
              Ctrl
            </button>
            {KEYS.map((k) => (
              <button
                key={k.testid}
                type="button"
                className="key"
                data-testid={k.testid}
                title={k.title}
                onPointerDown={keepFocus}
                onClick={() => send.current(k.seq)}
              >
                {k.label}
              </button>
            ))}
          </div>
        </>
      )}
    </section>
  );
}
