// Dictation through the browser's speech recognition (SpeechRecognition, webkitSpeechRecognition in
// Chrome and Safari), where the browser has it: the recognised words are added to the prompt box's text.
// Kept out of React so it is testable with a stub.

/** The part of a SpeechRecognition result list we read. */
export interface ResultListLike {
  readonly length: number;
  [index: number]: { readonly isFinal: boolean; readonly length: number; [index: number]: { transcript: string } };
}

export interface RecognitionLike {
  continuous: boolean;
  interimResults: boolean;
  lang: string;
  onresult: ((ev: { resultIndex: number; results: ResultListLike }) => void) | null;
  onerror: ((ev: { error: string }) => void) | null;
  onend: (() => void) | null;
  start(): void;
  stop(): void;
}

export type RecognitionCtor = new () => RecognitionLike;

/** The browser's recognition constructor, or null where there is none (the button is then hidden). */
export function recognitionCtor(win: unknown = typeof window === 'undefined' ? undefined : window): RecognitionCtor | null {
  if (!win || typeof win !== 'object') return null;
  const w = win as { SpeechRecognition?: RecognitionCtor; webkitSpeechRecognition?: RecognitionCtor };
  return w.SpeechRecognition ?? w.webkitSpeechRecognition ?? null;
}

/** The text before dictation began plus everything recognised so far (final and interim). */
export function dictatedText(base: string, results: ResultListLike): string {
  let spoken = '';
  for (let i = 0; i < results.length; i++) spoken += results[i][0]?.transcript ?? '';
  spoken = spoken.trim();
  if (!spoken) return base;
  if (!base) return spoken;
  return /\s$/.test(base) ? `${base}${spoken}` : `${base} ${spoken}`;
}

/** A recognition error in words. */
export function speechErrorText(error: string): string {
  switch (error) {
    case 'not-allowed':
    case 'service-not-allowed':
      return 'The microphone is not allowed for this page (it needs HTTPS and your permission).';
    case 'no-speech':
      return 'No speech was heard.';
    case 'audio-capture':
      return 'No microphone was found.';
    case 'network':
      return 'Speech recognition needs a network connection.';
    case 'aborted':
      return '';
    default:
      return `Dictation stopped (${error}).`;
  }
}

/** One dictation: starts recognising, reports the prompt box's new text, ends on stop() or by itself. */
export class Dictation {
  private rec: RecognitionLike | null = null;

  constructor(
    private readonly Ctor: RecognitionCtor,
    private readonly handlers: { onText: (text: string) => void; onEnd: (error: string | null) => void },
  ) {}

  start(base: string, lang?: string): void {
    const rec = new this.Ctor();
    rec.continuous = true;
    rec.interimResults = true;
    if (lang) rec.lang = lang;
    let error: string | null = null;
    rec.onresult = (ev) => this.handlers.onText(dictatedText(base, ev.results));
    rec.onerror = (ev) => {
      error = speechErrorText(ev.error) || null;
    };
    rec.onend = () => {
      this.rec = null;
      this.handlers.onEnd(error);
    };
    this.rec = rec;
    try {
      rec.start();
    } catch (e) {
      this.rec = null;
      this.handlers.onEnd(e instanceof Error ? e.message : String(e));
    }
  }

  stop(): void {
    this.rec?.stop();
  }

  get active(): boolean {
    return this.rec !== null;
  }
}
