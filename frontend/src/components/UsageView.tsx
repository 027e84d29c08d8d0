// The usage view: cost and tokens from Claude's transcripts for a chosen period (presets or dates), as
// totals, a chart by day (lazily loaded), and tables by project, model and session, with a CSV download.
// Each change of period asks the server, which first brings its index up to date (cheap: it reads only
// what Claude appended since).

import { useCallback, useEffect, useState } from 'react';
import { api, errorSentence } from '../api';
import { formatCost, formatTokens, isDay, periodQuery, PRESETS, type Period, type UsageReport } from '../usage';
import { UsageChart, type ChartMetric } from './UsageChart';

/** Sessions listed before "Show all". */
const SESSIONS_SHOWN = 10;

function formatWhen(ms: number): string {
  return new Date(ms).toLocaleString(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

export function UsageView({ onOpenSession }: { onOpenSession: (sessionId: string, projectPath: string, projectId: string) => void }) {
  const [period, setPeriod] = useState<Period>({ preset: '30d' });
  const [report, setReport] = useState<UsageReport | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [metric, setMetric] = useState<ChartMetric>('cost');
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [datesError, setDatesError] = useState<string | null>(null);
  const [allSessions, setAllSessions] = useState(false);

  const load = useCallback(async (p: Period) => {
    setLoading(true);
    setError(null);
    try {
      setReport(await api.usageReport(periodQuery(p)));
    } catch (e) {
      setError(`Could not load usage: ${errorSentence(e)}`);
    } finally {
      setLoading(false);
    }
  }, []);

  useEffect(() => {
    void load(period);
  }, [load, period]);

  const applyDates = () => {
    if (!isDay(from) || !isDay(to)) {
      setDatesError('Pick both a first and a last day.');
      return;
    }
    if (from > to) {
      setDatesError('The first day must be on or before the last day.');
      return;
    }
    setDatesError(null);
    setPeriod({ from, to });
  };

  const t = report?.totals;
  const sessions = report ? (allSessions ? report.by_session : report.by_session.slice(0, SESSIONS_SHOWN)) : [];
  return (
    <section className="runs usage" data-testid="usage-view" aria-label="Usage">
      <div className="runs-head">
        <div className="runs-title">
          <h1>Usage</h1>
          <span className="muted small" data-testid="usage-range">
            {report ? `${report.from ?? 'first use'} – ${report.to ?? 'today'} · UTC days` : 'Loading…'}
          </span>
        </div>
        <button className="btn btn-small" data-testid="usage-refresh" aria-label="Refresh usage" onClick={() => void load(period)}>
          ↻
        </button>
      </div>
      <div className="runs-body" aria-busy={loading}>
        <div className="usage-period" role="group" aria-label="Period">
          {PRESETS.map((p) => (
            <button
              key={p.value}
              className={`btn btn-small usage-preset ${'preset' in period && period.preset === p.value ? 'active' : ''}`}
              aria-pressed={'preset' in period && period.preset === p.value}
              data-testid={`usage-preset-${p.value}`}
              onClick={() => setPeriod({ preset: p.value })}
            >
              {p.label}
            </button>
          ))}
        </div>
        <form
          className="usage-dates"
          onSubmit={(e) => {
            e.preventDefault();
            applyDates();
          }}
        >
          <label>
            <span className="small muted">From</span>
            <input type="date" value={from} onChange={(e) => setFrom(e.target.value)} data-testid="usage-from" />
          </label>
          <label>
            <span className="small muted">To</span>
            <input type="date" value={to} onChange={(e) => setTo(e.target.value)} data-testid="usage-to" />
          </label>
          <button type="submit" className="btn btn-small" data-testid="usage-apply-dates">
            Apply
          </button>
        </form>
        {datesError && (
          <div className="msg-error" role="alert" data-testid="usage-dates-error">
            {datesError}
          </div>
        )}
        {error && (
          <div className="msg-error" role="alert" data-testid="usage-error">
            {error}
          </div>
        )}
        {t && report && (
          <>
            <div className="usage-totals" data-testid="usage-totals">
              <Stat label="Cost" value={formatCost(t.cost)} testid="usage-total-cost" />
              <Stat label="Tokens" value={formatTokens(t.total_tokens)} testid="usage-total-tokens" />
              <Stat label="Sessions" value={String(t.sessions)} testid="usage-total-sessions" />
              <Stat label="Messages" value={String(t.messages)} testid="usage-total-messages" />
            </div>
            <dl className="usage-kinds" data-testid="usage-kinds">
              <div>
                <dt>Input</dt>
                <dd data-testid="usage-input">{formatTokens(t.input_tokens)}</dd>
              </div>
              <div>
                <dt>Output</dt>
                <dd data-testid="usage-output">{formatTokens(t.output_tokens)}</dd>
              </div>
              <div>
                <dt>Cache write</dt>
                <dd data-testid="usage-cache-write">{formatTokens(t.cache_creation_tokens)}</dd>
              </div>
              <div>
                <dt>Cache read</dt>
                <dd data-testid="usage-cache-read">{formatTokens(t.cache_read_tokens)}</dd>
              </div>
            </dl>
            {t.cli_reported_cost !== null && (
              <p className="small muted" data-testid="usage-cli-cost">
                Claude Code itself reported {formatCost(t.cli_reported_cost)} for these sessions (whole sessions).
              </p>
            )}
            {report.unpriced_models.length > 0 && (
              <p className="small muted" data-testid="usage-unpriced">
                No list price known for {report.unpriced_models.join(', ')}: counted at $0 here.
              </p>
            )}
            {t.messages === 0 ? (
              <p className="muted" data-testid="usage-empty">
                No usage in this period. Claude Code's transcripts (~/.claude/projects) are read as they grow.
              </p>
            ) : (
              <>
                <section className="run-group" aria-label="By day">
                  <div className="usage-section-head">
                    <h2>By day</h2>
                    <div className="usage-metric" role="group" aria-label="Chart shows">
                      {(['cost', 'tokens'] as const).map((m) => (
                        <button
                          key={m}
                          className={`btn btn-small usage-preset ${metric === m ? 'active' : ''}`}
                          aria-pressed={metric === m}
                          data-testid={`usage-metric-${m}`}
                          onClick={() => setMetric(m)}
                        >
                          {m === 'cost' ? 'Cost' : 'Tokens'}
                        </button>
                      ))}
                    </div>
                  </div>
                  <UsageChart days={report.by_day} metric={metric} />
                </section>
                <UsageTable
                  title="By project"
                  testid="usage-projects"
                  rows={report.by_project.map((p) => ({
                    key: p.project_id,
                    name: p.project_name,
                    sub: `${p.project_path} · ${p.sessions} session${p.sessions === 1 ? '' : 's'}`,
                    cost: p.cost,
                    tokens: p.total_tokens,
                    messages: p.messages,
                  }))}
                />
                <UsageTable
                  title="By model"
                  testid="usage-models"
                  rows={report.by_model.map((m) => ({
                    key: m.model,
                    name: m.model,
                    sub: `${m.sessions} session${m.sessions === 1 ? '' : 's'}${m.priced ? '' : ' · no list price'}`,
                    cost: m.cost,
                    tokens: m.total_tokens,
                    messages: m.messages,
                  }))}
                />
                <UsageTable
                  title="By session"
                  testid="usage-sessions"
                  rows={sessions.map((s) => ({
                    key: s.session_id,
                    name: s.project_path.split('/').filter(Boolean).pop() ?? s.project_path,
                    sub: `${s.session_id.slice(0, 8)} · ${formatWhen(s.last_used_ms)}${
                      s.cli_cost !== null ? ` · CLI: ${formatCost(s.cli_cost)}` : ''
                    }`,
                    cost: s.cost,
                    tokens: s.total_tokens,
                    messages: s.messages,
                    onOpen: () => onOpenSession(s.session_id, s.project_path, s.project_id),
                  }))}
                >
                  {report.by_session.length > SESSIONS_SHOWN && (
                    <button className="btn btn-ghost" data-testid="usage-sessions-all" onClick={() => setAllSessions((v) => !v)}>
                      {allSessions ? 'Show fewer' : `Show all ${report.by_session.length}`}
                    </button>
                  )}
                  {report.sessions_truncated && (
                    <p className="small muted">The costliest sessions are listed; the CSV has every one.</p>
                  )}
                </UsageTable>
              </>
            )}
            <a
              className="btn usage-csv"
              href={`/api/usage/export.csv?${periodQuery(period)}`}
              download
              data-testid="usage-csv"
            >
              Download CSV
            </a>
          </>
        )}
      </div>
    </section>
  );
}

function Stat({ label, value, testid }: { label: string; value: string; testid: string }) {
  return (
    <div className="usage-stat">
      <span className="small muted">{label}</span>
      <strong data-testid={testid}>{value}</strong>
    </div>
  );
}

interface Row {
  key: string;
  name: string;
  sub: string;
  cost: number;
  tokens: number;
  messages: number;
  onOpen?: () => void;
}

function UsageTable({ title, testid, rows, children }: { title: string; testid: string; rows: Row[]; children?: React.ReactNode }) {
  return (
    <section className="run-group" aria-label={title}>
      <h2>{title}</h2>
      <table className="usage-table" data-testid={testid}>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col" className="num">
              Cost
            </th>
            <th scope="col" className="num">
              Tokens
            </th>
            <th scope="col" className="num wide-only">
              Messages
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.key} data-testid="usage-row" data-key={r.key}>
              <td className="usage-name">
                {r.onOpen ? (
                  <button className="link-button" onClick={r.onOpen} title="Open the transcript">
                    {r.name}
                  </button>
                ) : (
                  <span title={r.name}>{r.name}</span>
                )}
                <span className="small muted usage-sub" title={r.sub}>
                  {r.sub}
                </span>
              </td>
              <td className="num" data-testid="usage-row-cost">
                {formatCost(r.cost)}
              </td>
              <td className="num" data-testid="usage-row-tokens">
                {formatTokens(r.tokens)}
              </td>
              <td className="num wide-only">{r.messages}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {children}
    </section>
  );
}
