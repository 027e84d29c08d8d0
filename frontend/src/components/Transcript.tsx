// The scrolling list of a session's items: history pages first, then live items, then the streaming
// bubble. Only the last `window` items are mounted ("show earlier" grows it) so long runs stay smooth;
// it keeps the view pinned to the bottom while the reader is there. Older items (a history page, or
// "show earlier") are added above without moving what the reader looks at: the window grows by what a page
// brought, and the scroll position is kept relative to the bottom.

import { useLayoutEffect, useMemo, useRef, useState } from 'react';
import type { Item } from '../items';
import type { Streaming } from '../reducer';
import { MessageView, StreamingView } from './MessageView';
import { TurnChanges, useTurns } from './TurnChanges';

export const WINDOW_STEP = 200;

interface Props {
  history: Item[];
  items: Item[];
  streaming: Streaming | null;
  canLoadOlder: boolean;
  onLoadOlder: () => void;
  /** The session, for the changes of each turn shown under its result. */
  sessionId?: string | null;
}

export function Transcript({ history, items, streaming, canLoadOlder, onLoadOlder, sessionId }: Props) {
  const [windowSize, setWindowSize] = useState(WINDOW_STEP);
  const [historySeen, setHistorySeen] = useState(history.length);
  if (history.length !== historySeen) {
    // a page of older history arrived: show it (it is what the reader asked for)
    setHistorySeen(history.length);
    if (history.length > historySeen && historySeen > 0) setWindowSize((w) => w + (history.length - historySeen));
  }
  const all = useMemo(() => (history.length ? [...history, ...items] : items), [history, items]);
  const hidden = Math.max(0, all.length - windowSize);
  const shown = hidden > 0 ? all.slice(hidden) : all;
  // the n-th result is turn n
  const turnOf = useMemo(() => {
    const m = new Map<string, number>();
    let n = 0;
    for (const item of all) if (item.kind === 'result') m.set(item.key, ++n);
    return m;
  }, [all]);
  const turns = useTurns(sessionId, turnOf.size);
  const scroller = useRef<HTMLDivElement>(null);
  const pinned = useRef(true);
  /** Distance from the bottom to keep while older items are added above (null: nothing to keep). */
  const anchor = useRef<number | null>(null);
  const keepPlace = () => {
    const el = scroller.current;
    pinned.current = false;
    if (el) anchor.current = el.scrollHeight - el.scrollTop;
  };
  const firstKey = shown[0]?.key;

  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el || anchor.current === null) return;
    el.scrollTop = el.scrollHeight - anchor.current;
    anchor.current = null;
  }, [firstKey]);

  const onScroll = () => {
    const el = scroller.current;
    if (el) pinned.current = el.scrollHeight - el.scrollTop - el.clientHeight < 80;
  };

  useLayoutEffect(() => {
    const el = scroller.current;
    if (el && pinned.current) el.scrollTop = el.scrollHeight;
  }, [shown.length, streaming?.text.length, streaming?.thinking.length]);

  return (
    <div className="transcript" ref={scroller} onScroll={onScroll} data-testid="transcript">
      {hidden > 0 ? (
        <button
          className="btn btn-ghost load-more"
          data-testid="show-earlier"
          onClick={() => {
            keepPlace();
            setWindowSize((w) => w + WINDOW_STEP);
          }}
        >
          Show earlier ({hidden})
        </button>
      ) : (
        canLoadOlder && (
          <button
            className="btn btn-ghost load-more"
            data-testid="load-older"
            onClick={() => {
              keepPlace();
              onLoadOlder();
            }}
          >
            Load older messages
          </button>
        )
      )}
      {shown.map((item) => {
        const turn = turnOf.get(item.key);
        const info = turn === undefined ? undefined : turns.get(turn);
        return info && sessionId ? (
          <div key={item.key} className="turn-end">
            <MessageView item={item} />
            <TurnChanges sessionId={sessionId} turn={info} />
          </div>
        ) : (
          <MessageView key={item.key} item={item} />
        );
      })}
      {streaming && (streaming.text || streaming.thinking) && (
        <StreamingView text={streaming.text} thinking={streaming.thinking} />
      )}
    </div>
  );
}
