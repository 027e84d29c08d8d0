// Usage analytics: the shapes of `GET /api/usage/report`, the period a user picks, and how figures are
// written (cost, token counts) so they stay short on a phone.

export interface UsageSums {
  cost: number;
  input_tokens: number;
  output_tokens: number;
  cache_creation_tokens: number;
  cache_read_tokens: number;
  total_tokens: number;
  messages: number;
}

export interface UsageTotals extends UsageSums {
  sessions: number;
  projects: number;
  /** The CLI's own cost totals of the sessions that reported one (whole sessions), or null. */
  cli_reported_cost: number | null;
}

export interface DayUsage extends UsageSums {
  date: string;
  models: string[];
}

export interface ProjectUsage extends UsageSums {
  project_id: string;
  project_path: string;
  project_name: string;
  sessions: number;
  last_used_ms: number;
}

export interface ModelUsage extends UsageSums {
  model: string;
  sessions: number;
  priced: boolean;
}

export interface SessionUsage extends UsageSums {
  session_id: string;
  project_id: string;
  project_path: string;
  cli_cost: number | null;
  models: string[];
  first_used_ms: number;
  last_used_ms: number;
}

export interface UsageReport {
  from: string | null;
  to: string | null;
  totals: UsageTotals;
  by_day: DayUsage[];
  by_project: ProjectUsage[];
  by_model: ModelUsage[];
  by_session: SessionUsage[];
  sessions_truncated: boolean;
  unpriced_models: string[];
}

export type Preset = '7d' | '30d' | '90d' | 'all';
export const PRESETS: { value: Preset; label: string }[] = [
  { value: '7d', label: '7 days' },
  { value: '30d', label: '30 days' },
  { value: '90d', label: '90 days' },
  { value: 'all', label: 'All' },
];

/** A period: a preset, or dates (`YYYY-MM-DD`, UTC days, inclusive). */
export type Period = { preset: Preset } | { from: string; to: string };

/** The query string of a period (without `?`). */
export function periodQuery(p: Period): string {
  return 'preset' in p ? new URLSearchParams({ period: p.preset }).toString() : new URLSearchParams({ from: p.from, to: p.to }).toString();
}

/** US dollars: cents above a dollar, more digits below so small runs do not read as $0.00. */
export function formatCost(usd: number): string {
  if (usd === 0) return '$0';
  if (usd >= 1) return `$${usd.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
  if (usd >= 0.01) return `$${usd.toFixed(2)}`;
  if (usd >= 0.0001) return `$${usd.toFixed(4)}`;
  return '<$0.0001';
}

/** A token count in at most four significant characters: 950, 12.3k, 4.5M, 1.2B. */
export function formatTokens(n: number): string {
  if (n < 1000) return String(n);
  const units: [number, string][] = [
    [1e9, 'B'],
    [1e6, 'M'],
    [1e3, 'k'],
  ];
  for (const [size, unit] of units) {
    if (n >= size) {
      const v = n / size;
      return `${v >= 100 ? Math.round(v) : v.toFixed(1).replace(/\.0$/, '')}${unit}`;
    }
  }
  return String(n);
}

/** A day as the chart's axis shows it: `D/M`. */
export function shortDay(date: string): string {
  const [, m, d] = date.split('-');
  return `${Number(d)}/${Number(m)}`;
}

/** Whether a date string is a real `YYYY-MM-DD` day. */
export function isDay(s: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(s)) return false;
  const d = new Date(`${s}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s;
}
