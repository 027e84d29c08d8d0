// The prompt box pinned to the bottom of the view: a growing textarea, images attached to the prompt
// (picked from the files or camera roll, taken with the camera, pasted or dropped; thumbnails with a remove
// button; type, size and count checked at once), a dictation button where the browser has speech
// recognition, and a send button. Enter sends on desktop, Shift+Enter (and Enter on touch keyboards) adds a
// line. With a project, a `/` at the start opens the slash-command menu (SlashMenu).

import { useEffect, useId, useRef, useState, type KeyboardEvent, type ReactNode } from 'react';
import type { ImageAttachment } from '../events';
import { imageProblem, imageSrc, readImage } from '../images';
import { slashQuery, type MenuCommand } from '../slash';
import { Dictation, recognitionCtor } from '../speech';
import { matches, SlashMenu, useProjectCommands } from './SlashMenu';

interface Props {
  placeholder: string;
  disabled?: boolean;
  sendLabel?: string;
  /** Returns false (or a promise of false) when the text was not taken: it stays in the box (and the images
   *  with it). */
  onSend: (text: string, images: ImageAttachment[]) => void | boolean | Promise<boolean>;
  /** Extra buttons next to send (e.g. "Continue latest"); they receive the current text. */
  extra?: (text: string, clear: () => void) => ReactNode;
  /** The project whose slash commands a `/` at the start offers (no menu without one). */
  projectPath?: string;
}

const coarsePointer = () => typeof matchMedia === 'function' && matchMedia('(pointer: coarse)').matches;

export function Composer({ placeholder, disabled, sendLabel = 'Send', onSend, extra, projectPath }: Props) {
  const [text, setText] = useState('');
  const [menuActive, setMenuActive] = useState(0);
  /** The text at which Esc closed the menu: it stays closed until the text changes. */
  const [dismissedAt, setDismissedAt] = useState<string | null>(null);
  const input = useRef<HTMLTextAreaElement | null>(null);
  const caret = useRef<number | null>(null);
  const menuId = useId();
  const query = projectPath && !disabled ? slashQuery(text) : null;
  const menuOpen = query !== null && text !== dismissedAt;
  const { commands, error: commandsError } = useProjectCommands(projectPath, menuOpen);
  const menuItems = menuOpen ? matches(commands, query ?? '') : [];
  const active = Math.min(menuActive, Math.max(0, menuItems.length - 1));
  const [listening, setListening] = useState(false);
  const [speechError, setSpeechError] = useState<string | null>(null);
  const [images, setImages] = useState<ImageAttachment[]>([]);
  const [imageError, setImageError] = useState<string | null>(null);
  const dictation = useRef<Dictation | null>(null);
  const picker = useRef<HTMLInputElement | null>(null);
  const camera = useRef<HTMLInputElement | null>(null);
  const Recognition = recognitionCtor();
  const clear = () => {
    setText('');
    setImages([]);
    setImageError(null);
  };

  /** Checks and reads files (picked, pasted or dropped); the first problem is said, the good ones are kept. */
  const attach = async (files: File[]) => {
    let count = images.length;
    const taken: ImageAttachment[] = [];
    let problem: string | null = null;
    for (const file of files) {
      const why = imageProblem(file, count);
      if (why) {
        problem ??= why;
        continue;
      }
      try {
        taken.push(await readImage(file));
        count++;
      } catch {
        problem ??= `${file.name || 'The image'} could not be read.`;
      }
    }
    setImageError(problem);
    if (taken.length) setImages((cur) => [...cur, ...taken]);
  };

  useEffect(() => () => dictation.current?.stop(), []);

  // after a command was chosen: the cursor goes after `/name `
  useEffect(() => {
    const at = caret.current;
    if (at === null || !input.current) return;
    caret.current = null;
    input.current.focus();
    input.current.setSelectionRange(at, at);
  }, [text]);

  const edit = (value: string) => {
    setText(value);
    setMenuActive(0);
  };

  const choose = (command: MenuCommand) => {
    const filled = `/${command.name} `;
    caret.current = filled.length;
    setText(filled);
    setMenuActive(0);
  };

  /** The menu's keys; true when the key was the menu's. */
  const menuKey = (e: KeyboardEvent<HTMLTextAreaElement>): boolean => {
    if (!menuOpen) return false;
    if (e.key === 'Escape') {
      setDismissedAt(text);
      return true;
    }
    if (menuItems.length === 0) return false;
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      const step = e.key === 'ArrowDown' ? 1 : -1;
      setMenuActive((active + step + menuItems.length) % menuItems.length);
      return true;
    }
    if ((e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) || (e.key === 'Tab' && !e.shiftKey)) {
      choose(menuItems[active]);
      return true;
    }
    return false;
  };

  const send = () => {
    const t = text.trim();
    if ((!t && images.length === 0) || disabled) return;
    dictation.current?.stop();
    const sent = images;
    const taken = onSend(t, sent);
    if (taken instanceof Promise) {
      void taken.then((ok) => {
        if (!ok) return;
        setText((cur) => (cur.trim() === t ? '' : cur));
        setImages((cur) => (cur === sent ? [] : cur));
        setImageError(null);
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
      data-testid="composer"
      onSubmit={(e) => {
        e.preventDefault();
        send();
      }}
      onDragOver={(e) => {
        if (e.dataTransfer.types.includes('Files')) e.preventDefault();
      }}
      onDrop={(e) => {
        const files = [...e.dataTransfer.files];
        if (!files.length) return;
        e.preventDefault();
        void attach(files);
      }}
    >
      {images.length > 0 && (
        <ul className="composer-images" data-testid="attached-images">
          {images.map((image, i) => (
            <li key={i} data-testid="attached-image">
              <img src={imageSrc(image)} alt={`Attached image ${i + 1}`} />
              <button
                type="button"
                className="btn btn-small remove-image"
                data-testid="remove-image"
                aria-label={`Remove image ${i + 1}`}
                onClick={() => setImages((cur) => cur.filter((_, j) => j !== i))}
              >
                <span aria-hidden="true">×</span>
              </button>
            </li>
          ))}
        </ul>
      )}
      {imageError && (
        <div className="msg-error small image-error" data-testid="image-error" role="alert">
          {imageError}
        </div>
      )}
      {menuOpen && (
        <SlashMenu
          id={menuId}
          query={query ?? ''}
          commands={commands}
          error={commandsError}
          active={active}
          onActive={setMenuActive}
          onChoose={choose}
        />
      )}
      <textarea
        ref={input}
        data-testid="prompt-input"
        aria-label="Prompt"
        aria-autocomplete={projectPath ? 'list' : undefined}
        aria-expanded={projectPath ? menuOpen && menuItems.length > 0 : undefined}
        aria-controls={menuOpen && menuItems.length > 0 ? menuId : undefined}
        aria-activedescendant={menuOpen && menuItems.length > 0 ? `${menuId}-${active}` : undefined}
        value={text}
        rows={Math.min(6, Math.max(1, text.split('\n').length))}
        placeholder={listening ? 'Listening…' : placeholder}
        onChange={(e) => edit(e.target.value)}
        onPaste={(e) => {
          const files = [...e.clipboardData.files];
          if (!files.length) return;
          e.preventDefault();
          void attach(files);
        }}
        onKeyDown={(e) => {
          if (menuKey(e)) {
            e.preventDefault();
            return;
          }
          if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing && !coarsePointer()) {
            e.preventDefault();
            send();
          }
        }}
      />
      <div className="composer-actions">
        <input
          ref={picker}
          type="file"
          accept="image/*"
          multiple
          hidden
          data-testid="image-input"
          onChange={(e) => {
            const files = [...(e.target.files ?? [])];
            e.target.value = '';
            void attach(files);
          }}
        />
        <input
          ref={camera}
          type="file"
          accept="image/*"
          capture="environment"
          hidden
          data-testid="camera-input"
          onChange={(e) => {
            const files = [...(e.target.files ?? [])];
            e.target.value = '';
            void attach(files);
          }}
        />
        <button
          type="button"
          className="btn attach"
          data-testid="attach-button"
          aria-label="Attach images"
          title="Attach images (or paste or drop them)"
          disabled={disabled}
          onClick={() => picker.current?.click()}
        >
          <svg viewBox="0 0 24 24" aria-hidden="true" fill="none" stroke="currentColor" strokeWidth="2" strokeLinecap="round" strokeLinejoin="round">
            <rect x="3" y="4" width="18" height="16" rx="2" />
            <circle cx="9" cy="10" r="2" />
            <path d="M21 17l-5-5-9 8" />
          </svg>
        </button>
        {coarsePointer() && (
          <button
            type="button"
            className="btn attach"
            data-testid="camera-button"
            aria-label="Take a photo"
            title="Take a photo"
            disabled={disabled}
            onClick={() => camera.current?.click()}
          >
            <svg viewBox="0 0 24 24" aria-hidden="true" fill="none" stroke="currentColor" strokeWidth="2" strokeLinecap="round" strokeLinejoin="round">
              <path d="M4 8h3l2-3h6l2 3h3v11H4z" />
              <circle cx="12" cy="13" r="3.5" />
            </svg>
          </button>
        )}
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
        <button type="submit" className="btn btn-primary" data-testid="send-button" disabled={disabled || (!text.trim() && images.length === 0)}>
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
