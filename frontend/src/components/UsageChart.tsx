// The chart of usage by day: Chart.js, loaded on first use (its own chunk: the app shell does not carry it),
// a bar per day of cost or tokens. Sized by its box, so it reads on a 390 px phone and on a laptop.

import { useEffect, useRef, useState } from 'react';
import { formatCost, formatTokens, shortDay, type DayUsage } from '../usage';

export type ChartMetric = 'cost' | 'tokens';

type ChartModule = typeof import('chart.js');
let loading: Promise<ChartModule> | null = null;

/** Chart.js with the pieces a bar chart needs, registered once. */
function loadChart(): Promise<ChartModule> {
  loading ??= import('chart.js').then((m) => {
    m.Chart.register(m.BarController, m.BarElement, m.CategoryScale, m.LinearScale, m.Tooltip);
    return m;
  });
  return loading;
}

export function UsageChart({ days, metric }: { days: DayUsage[]; metric: ChartMetric }) {
  const canvas = useRef<HTMLCanvasElement | null>(null);
  const chart = useRef<import('chart.js').Chart | null>(null);
  const [state, setState] = useState<'loading' | 'ready' | 'failed'>('loading');

  useEffect(() => {
    let gone = false;
    loadChart()
      .then((m) => {
        if (gone || !canvas.current) return;
        const value = (d: DayUsage) => (metric === 'cost' ? d.cost : d.total_tokens);
        const format = (v: number) => (metric === 'cost' ? formatCost(v) : formatTokens(v));
        const accent = getComputedStyle(document.documentElement).getPropertyValue('--accent').trim() || '#4f7cff';
        const muted = getComputedStyle(document.documentElement).getPropertyValue('--muted').trim() || '#888';
        chart.current?.destroy();
        chart.current = new m.Chart(canvas.current, {
          type: 'bar',
          data: {
            labels: days.map((d) => shortDay(d.date)),
            datasets: [{ data: days.map(value), backgroundColor: accent, borderRadius: 3, maxBarThickness: 28 }],
          },
          options: {
            animation: false,
            responsive: true,
            maintainAspectRatio: false,
            plugins: {
              tooltip: {
                callbacks: {
                  title: (items) => days[items[0]?.dataIndex ?? 0]?.date ?? '',
                  label: (item) => format(Number(item.raw)),
                },
              },
            },
            scales: {
              x: { grid: { display: false }, ticks: { color: muted, maxRotation: 0, autoSkip: true, autoSkipPadding: 8 } },
              y: { beginAtZero: true, ticks: { color: muted, maxTicksLimit: 5, callback: (v) => format(Number(v)) } },
            },
          },
        });
        setState('ready');
      })
      .catch(() => {
        if (!gone) setState('failed');
      });
    return () => {
      gone = true;
    };
  }, [days, metric]);

  useEffect(() => () => chart.current?.destroy(), []);

  const total = days.reduce((sum, d) => sum + (metric === 'cost' ? d.cost : d.total_tokens), 0);
  const label = `${metric === 'cost' ? 'Cost' : 'Tokens'} by day, ${days.length} days, ${
    metric === 'cost' ? formatCost(total) : formatTokens(total)
  } in all`;
  return (
    <div className="usage-chart" data-testid="usage-chart" data-state={state}>
      <canvas ref={canvas} role="img" aria-label={label} />
      {state === 'failed' && <p className="muted small">The chart could not be loaded (offline?). The tables below have the figures.</p>}
    </div>
  );
}
