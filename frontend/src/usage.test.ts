import { describe, expect, it } from 'vitest';
import { initialState, reducer } from './reducer';
import { hashFor } from './route';
import { formatCost, formatTokens, isDay, periodQuery, shortDay } from './usage';

describe('usage', () => {
  it('writes costs and token counts short enough for a phone', () => {
    expect(formatCost(0)).toBe('$0');
    expect(formatCost(0.00048)).toBe('$0.0005');
    expect(formatCost(0.00001)).toBe('<$0.0001');
    expect(formatCost(0.5)).toBe('$0.50');
    expect(formatCost(1234.5)).toBe('$1,234.50');
    expect(formatTokens(950)).toBe('950');
    expect(formatTokens(12_345)).toBe('12.3k');
    expect(formatTokens(1_000_000)).toBe('1M');
    expect(formatTokens(456_000_000)).toBe('456M');
    expect(shortDay('2026-03-07')).toBe('7/3');
  });

  it('asks for a preset or dates, and checks dates before asking', () => {
    expect(periodQuery({ preset: '7d' })).toBe('period=7d');
    expect(periodQuery({ from: '2026-01-01', to: '2026-01-31' })).toBe('from=2026-01-01&to=2026-01-31');
    expect(isDay('2026-02-28')).toBe(true);
    expect(isDay('2026-02-30')).toBe(false);
    expect(isDay('2026-2-1')).toBe(false);
  });

  it('the usage view is a pane of its own: the runs view, a tab or home leaves it, and #usage names it', () => {
    let st = reducer(initialState, { type: 'show-pane', pane: 'usage' });
    expect(st.pane).toBe('usage');
    expect(hashFor(st)).toBe('#usage');
    expect(reducer(st, { type: 'show-pane', pane: 'usage' })).toBe(st);
    expect(reducer(st, { type: 'show-pane', pane: 'runs' }).pane).toBe('runs');
    expect(reducer(st, { type: 'activate', key: null }).pane).toBe(null);
    st = reducer(reducer(initialState, { type: 'show-pane', pane: 'runs' }), { type: 'show-pane', pane: 'usage' });
    expect(st.pane).toBe('usage');
  });
});
