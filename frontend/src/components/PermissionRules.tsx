// The project's remembered permission rules (`.claude/settings.local.json`, claude's own file, where "always
// allow" keeps what it remembered): allow / deny / ask lists, each rule removable. A removal is a PUT with
// the version read; when claude or another device changed the file since (409) the lists are read again
// and a note says so.

import { useCallback, useEffect, useState } from 'react';
import { api, ApiError, errorSentence, type PermissionRules as Rules, type RuleLists } from '../api';

const LISTS: { key: keyof RuleLists; title: string; hint: string }[] = [
  { key: 'allow', title: 'Allowed without asking', hint: 'claude uses these without an approval card' },
  { key: 'deny', title: 'Always denied', hint: 'claude is refused these without asking' },
  { key: 'ask', title: 'Always asked', hint: 'claude asks every time' },
];

export function PermissionRulesPage({ projectPath, onClose }: { projectPath: string; onClose: () => void }) {
  const [rules, setRules] = useState<Rules | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const load = useCallback(async () => {
    setError(null);
    try {
      setRules(await api.permissionRules(projectPath));
    } catch (e) {
      setError(`Could not read the rules: ${errorSentence(e)}`);
    }
  }, [projectPath]);

  useEffect(() => {
    void load();
  }, [load]);

  const remove = async (list: keyof RuleLists, rule: string) => {
    if (!rules) return;
    setBusy(true);
    setNote(null);
    setError(null);
    const next: RuleLists = { allow: rules.allow, deny: rules.deny, ask: rules.ask };
    next[list] = next[list].filter((r) => r !== rule);
    try {
      setRules(await api.putPermissionRules(projectPath, { ...next, version: rules.version }));
      setNote(`Removed ${rule}`);
    } catch (e) {
      if (e instanceof ApiError && e.status === 409) {
        setNote('Changed elsewhere — reloaded. Check the lists and try again.');
        await load();
      } else {
        setError(`Could not remove ${rule}: ${errorSentence(e)}`);
      }
    } finally {
      setBusy(false);
    }
  };

  const empty = rules && rules.allow.length + rules.deny.length + rules.ask.length === 0;
  return (
    <section className="rules-page" data-testid="rules-page" aria-label="Permission rules">
      <div className="rules-head">
        <h2>Permission rules</h2>
        <button type="button" className="btn btn-small" data-testid="rules-close" onClick={onClose}>
          Close
        </button>
      </div>
      <div className="muted small rules-project" title={projectPath}>
        {rules?.file ?? projectPath}
      </div>
      {note && (
        <div className="rules-note small" data-testid="rules-note" role="status">
          {note}
        </div>
      )}
      {error && (
        <div className="msg-error small" data-testid="rules-error" role="alert">
          {error}
        </div>
      )}
      {!rules && !error && <p className="muted">Loading…</p>}
      {empty && (
        <p className="muted" data-testid="rules-empty">
          No rules kept for this project. "Always allow" on an approval card adds one.
        </p>
      )}
      {rules &&
        LISTS.filter((l) => rules[l.key].length > 0).map((l) => (
          <div key={l.key} className="panel rules-list" data-testid={`rules-${l.key}`}>
            <h3 title={l.hint}>{l.title}</h3>
            <ul className="list">
              {rules[l.key].map((r) => (
                <li key={r} className="rule-row" data-testid="rule-row" data-list={l.key} data-rule={r}>
                  <code className="rule">{r}</code>
                  <button
                    type="button"
                    className="btn btn-small btn-ghost"
                    data-testid="rule-remove"
                    aria-label={`Remove ${r}`}
                    disabled={busy}
                    onClick={() => void remove(l.key, r)}
                  >
                    Remove
                  </button>
                </li>
              ))}
            </ul>
          </div>
        ))}
    </section>
  );
}
