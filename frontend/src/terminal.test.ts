import { describe, expect, it } from 'vitest';
import { withCtrl } from './components/TerminalPane';

describe('the Ctrl key of the terminal key row', () => {
  it('turns a letter into its control character', () => {
    expect(withCtrl('c')).toBe('\x03');
    expect(withCtrl('C')).toBe('\x03');
    expect(withCtrl('d')).toBe('\x04');
    expect(withCtrl('[')).toBe('\x1b');
    expect(withCtrl(' ')).toBe('\x00');
  });
  it('leaves what has no control character alone', () => {
    expect(withCtrl('1')).toBe('1');
    expect(withCtrl('\x1b[A')).toBe('\x1b[A');
  });
});
