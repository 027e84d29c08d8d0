// The prompt box pinned to the bottom of the view: a growing textarea and a send button. Enter sends on
// desktop, Shift+Enter (and Enter on touch keyboards) adds a line.

import { useState, type ReactNode } from 'react';

interface Props {
  placeholder: string;
  disabled?: boolean;
  sendLabel?: string;
  onSend: (text: string) => void;
  /** Extra buttons next to send (e.g. "Continue latest"); they receive the current text. */
  extra?: (text: string, clear: () => void) => ReactNode;
}

const coarsePointer = () => typeof matchMedia === 'function' && matchMedia('(pointer: coarse)').matches;

export function Composer({ placeholder, disabled, sendLabel = 'Send', onSend, extra }: Props) {
  const [text, setText] = useState('');
  const clear = () => setText('');
  const send = () => {
    const t = text.trim();
    if (!t || disabled) return;
    onSend(t);
    clear();
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
        placeholder={placeholder}
        onChange={(e) => setText(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing && !coarsePointer()) {
            e.preventDefault();
            send();
          }
        }}
      />
      <div className="composer-actions">
        {extra?.(text.trim(), clear)}
        <button type="submit" className="btn btn-primary" data-testid="send-button" disabled={disabled || !text.trim()}>
          {sendLabel}
        </button>
      </div>
    </form>
  );
}
