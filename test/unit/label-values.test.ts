import { describe, expect, it } from 'vitest';
import { boundedLabel, MAX_LABEL_LENGTH } from '../../src/metrics/label-values.js';

describe('boundedLabel', () => {
  it('keeps values up to the limit as they are', () => {
    const value = 'x'.repeat(MAX_LABEL_LENGTH);
    expect(boundedLabel(value)).toBe(value);
  });

  it('cuts longer values to the limit, ending in a hash that tells them apart', () => {
    const a = boundedLabel(`${'y'.repeat(500)}a`);
    const b = boundedLabel(`${'y'.repeat(500)}b`);
    expect(a).toHaveLength(MAX_LABEL_LENGTH);
    expect(a).toMatch(/^y+~[0-9a-f]{8}$/);
    expect(a).not.toBe(b);
    expect(boundedLabel(`${'y'.repeat(500)}a`)).toBe(a);
  });
});
