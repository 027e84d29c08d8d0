// The code viewer and editor of the Files pane: CodeMirror 6, loaded lazily (this module is only imported
// through `React.lazy`), with the language chosen from the file name by @codemirror/language-data (each
// language is a chunk of its own, loaded when a file needs it). Read-only until the user edits.

import { useEffect, useRef, useState } from 'react';
import { basicSetup, EditorView } from 'codemirror';
import { Compartment, EditorState } from '@codemirror/state';
import { LanguageDescription } from '@codemirror/language';
import { languages } from '@codemirror/language-data';

export interface CodeEditorProps {
  /** The file's name: picks the language. */
  name: string;
  /** The text shown when the editor mounts (remount with a `key` to show another version). */
  text: string;
  editable: boolean;
  /** Called with a getter of the current text whenever it changes. */
  onChange: (current: () => string) => void;
}

export default function CodeEditor({ name, text, editable, onChange }: CodeEditorProps) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const readOnly = useRef(new Compartment());
  const language = useRef(new Compartment());
  const changed = useRef(onChange);
  changed.current = onChange;
  const [lang, setLang] = useState('');

  useEffect(() => {
    if (!host.current) return;
    const v = new EditorView({
      parent: host.current,
      state: EditorState.create({
        doc: text,
        extensions: [
          basicSetup,
          EditorView.lineWrapping,
          readOnly.current.of([EditorState.readOnly.of(!editable), EditorView.editable.of(editable)]),
          language.current.of([]),
          EditorView.updateListener.of((u) => {
            if (u.docChanged) changed.current(() => u.state.doc.toString());
          }),
        ],
      }),
    });
    view.current = v;
    let gone = false;
    const desc = LanguageDescription.matchFilename(languages, name);
    if (desc) {
      void desc.load().then((support) => {
        if (gone) return;
        v.dispatch({ effects: language.current.reconfigure(support) });
        setLang(desc.name);
      });
    }
    return () => {
      gone = true;
      v.destroy();
      view.current = null;
    };
    // the text and name are the editor's initial content: a new file remounts it (key)
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  useEffect(() => {
    view.current?.dispatch({
      effects: readOnly.current.reconfigure([EditorState.readOnly.of(!editable), EditorView.editable.of(editable)]),
    });
    if (editable) view.current?.focus();
  }, [editable]);

  return <div className="code-editor" data-testid="files-editor" data-language={lang} data-editable={editable ? 'true' : 'false'} ref={host} />;
}
