// The prompt box pinned to the bottom of the view: a growing textarea, a dictation button where the
// browser has speech recognition, and a send button. Enter sends on desktop, Shift+Enter (and Enter on
// touch keyboards) adds a line.

import { useEffect, useRef, useState, type ReactNode } from 'react';
import { Dictation, recognitionCtor } from '../speech';

interface Props {
  placeholder: string;
  disabled?: boolean;
  sendLabel?: string;
  /** Returns false (or a promise of false) when the text was not taken: it stays in the box. */
  onSend: (text: string) => void | boolean | Promise<boolean>;
  /** Extra buttons next to send (e.g. "Continue latest"); they receive the current text. */
  extra?: (text: string, clear: () => void) => ReactNode;
}

const coarsePointer = () => typeof matchMedia === 'function' && matchMedia('(pointer: coarse)').matches;

export function Composer({ placeholder, disabled, sendLabel = 'Send', onSend, extra }: Props) {
  const [text, setText] = useState('');
  const [listening, setListening] = useState(false);
  const [speechError, setSpeechError] = useState<string | null>(null);
  const dictation = useRef<Dictation | null>(null);
  const Recognition = recognitionCtor();
  const clear = () => setText('');

  useEffect(() => () => dictation.current?.stop(), []);

  const send = () => {
    const t = text.trim();
    if (!t || disabled) return;
    dictation.current?.stop();
    const taken = onSend(t);
    if (taken instanceof Promise) {
      void taken.then((ok) => {
        if (ok) setText((cur) => (cur.trim() === t ? '' : cur));
      });
    } else if (taken !== false) {
      clear();
    }
  };

  const toggleDictation = () => {
    if (!Recognition) return;
    if (dictation.current?.active) {
      dictation.current.stop();
      return;
    }
    setSpeechError(null);
    const d = new Dictation(Recognition, {
      onText: setText,
      onEnd: (error) => {
        setListening(false);
        setSpeechError(error);
      },
    });
    dictation.current = d;
    setListening(true);
    d.start(text, typeof navigator !== 'undefined' ? navigator.language : undefined);
  };

  return (
    <form
      className="composer"
      onSubmit={(e) => {
        e.preventDefault();
        send();
      }}
    >
      <textarea
        data-testid="prompt-input"
        aria-label="Prompt"
        value={text}
        rows={Math.min(6, Math.max(1, text.split('\n').length))}
        placeholder={listening ? 'Listening…' : placeholder}
        onChange={(e) => setText(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing && !coarsePointer()) {
            e.preventDefault();
            send();
          }
        }}
      />
      <div className="composer-actions">
        {Recognition && (
          <button
            type="button"
            className={`btn dictate ${listening ? 'is-listening' : ''}`}
            data-testid="dictate-button"
            aria-pressed={listening}
            aria-label={listening ? 'Stop dictation' : 'Dictate'}
            title={speechError ?? (listening ? 'Stop dictation' : 'Dictate (speech to text)')}
            onClick={toggleDictation}
          >
            {listening ? (
              <svg viewBox="0 0 24 24" aria-hidden="true">
                <rect x="6" y="6" width="12" height="12" rx="2" fill="currentColor" />
              </svg>
            ) : (
              <svg viewBox="0 0 24 24" aria-hidden="true" fill="none" stroke="currentColor" strokeWidth="2" strokeLinecap="round">
                <rect x="9" y="3" width="6" height="11" rx="3" />
                <path d="M5 11a7 7 0 0 0 14 0M12 18v3" />
              </svg>
            )}
          </button>
        )}
        {extra?.(text.trim(), clear)}
        <button type="submit" className="btn btn-primary" data-testid="send-button" disabled={disabled || !text.trim()}>
          {sendLabel}
        </button>
      </div>
      {speechError && (
        <div className="speech-error muted small" data-testid="speech-error" role="status">
          {speechError}
        </div>
      )}
    </form>
  );
}
