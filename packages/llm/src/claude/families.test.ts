import { describe, expect, it } from 'vitest';
import { modelFamily } from './families.js';

describe('modelFamily: which budget a model draws on', () => {
  it.each([
    ['claude-opus-4-5', 'claude-opus-4-5+'],
    ['claude-opus-4-6', 'claude-opus-4-5+'],
    ['claude-opus-4-7', 'claude-opus-4-5+'],
    ['claude-opus-4-8', 'claude-opus-4-5+'],
    ['claude-opus-4-5-20251101', 'claude-opus-4-5+'],
    ['claude-opus-4-8-latest', 'claude-opus-4-5+'],
    ['claude-opus-4-1', 'claude-opus-4-1'],
    ['claude-opus-4-1-20250805', 'claude-opus-4-1'],
    ['claude-opus-4-9', 'claude-opus-4-9'],
    ['claude-opus-5', 'claude-opus-5'],
    ['claude-sonnet-4-5-20250929', 'claude-sonnet-4-5'],
    ['claude-haiku-5-5', 'claude-haiku-5-5'],
  ])('%s → %s', (model, family) => {
    expect(modelFamily(model)).toBe(family);
  });

  it('caller overrides win, by exact id or by base id', () => {
    const overrides = { 'claude-sonnet-4-5': 'sonnet', 'claude-opus-4-6-20260101': 'special', 'claude-x': 'x' };
    expect(modelFamily('claude-sonnet-4-5', overrides)).toBe('sonnet');
    expect(modelFamily('claude-sonnet-4-5-20250929', overrides)).toBe('sonnet');
    expect(modelFamily('claude-opus-4-6-20260101', overrides)).toBe('special');
    expect(modelFamily('claude-opus-4-6', overrides)).toBe('claude-opus-4-5+');
    expect(modelFamily('claude-haiku-4-5', overrides)).toBe('claude-haiku-4-5');
  });
});
