import { describe, expect, it } from 'vitest';
import { LEDGER_DAYS, MemoryLedger, type UsageEntry, utcDay } from './ledger.js';

const tokens = { input: 10, cacheWrite5m: 20, cacheWrite1h: 30, cacheRead: 40, output: 50 };
const entry = (over: Partial<UsageEntry> = {}): UsageEntry => ({
  day: '2026-11-25',
  model: 'claude-sonnet-4-5',
  tokens,
  micros: 1_234,
  priced: true,
  success: true,
  ...over,
});

describe('utcDay', () => {
  it('is the UTC calendar day, whatever the local zone', () => {
    expect(utcDay(Date.parse('2026-11-25T23:59:59.999Z'))).toBe('2026-11-25');
    expect(utcDay(Date.parse('2026-11-26T00:00:00.000Z'))).toBe('2026-11-26');
  });
});

describe('MemoryLedger', () => {
  it('adds every counter per day and model', async () => {
    const ledger = new MemoryLedger();
    expect(await ledger.record(entry())).toBe(true);
    expect(await ledger.record(entry({ success: false, micros: 0, tokens: { ...tokens, output: 0 } }))).toBe(true);
    expect(await ledger.record(entry({ model: 'claude-mystery', priced: false, micros: 0 }))).toBe(true);
    const days = await ledger.read(['2026-11-25', '2026-11-24']);
    expect(days.get('2026-11-24')).toEqual({});
    expect(days.get('2026-11-25')).toEqual({
      'claude-sonnet-4-5': {
        calls: 2,
        errors: 1,
        costMicros: 1_234,
        input: 20,
        cacheWrite5m: 40,
        cacheWrite1h: 60,
        cacheRead: 80,
        output: 50,
      },
      'claude-mystery': {
        calls: 1,
        unpriced: 1,
        input: 10,
        cacheWrite5m: 20,
        cacheWrite1h: 30,
        cacheRead: 40,
        output: 50,
      },
    });
  });

  it('counts a request id once', async () => {
    const ledger = new MemoryLedger();
    expect(await ledger.record(entry({ requestId: 'req_1' }))).toBe(true);
    expect(await ledger.record(entry({ requestId: 'req_1', micros: 999_999 }))).toBe(false);
    expect(await ledger.record(entry({ requestId: 'req_2' }))).toBe(true);
    const day = (await ledger.read(['2026-11-25'])).get('2026-11-25');
    expect(day?.['claude-sonnet-4-5']).toMatchObject({ calls: 2, costMicros: 2_468 });
  });

  it('reads are copies: changing one does not change the ledger', async () => {
    const ledger = new MemoryLedger();
    await ledger.record(entry());
    const first = await ledger.read(['2026-11-25']);
    const counters = first.get('2026-11-25')?.['claude-sonnet-4-5'] as Record<string, number>;
    counters.calls = 99;
    const again = await ledger.read(['2026-11-25']);
    expect(again.get('2026-11-25')?.['claude-sonnet-4-5']?.calls).toBe(1);
  });

  it(`keeps ${LEDGER_DAYS} days`, async () => {
    const ledger = new MemoryLedger();
    const day = (n: number) => utcDay(Date.parse('2026-11-01T12:00:00Z') + n * 86_400_000);
    await ledger.record(entry({ day: day(0) }));
    await ledger.record(entry({ day: day(1) }));
    await ledger.record(entry({ day: day(LEDGER_DAYS) }));
    const read = await ledger.read([day(0), day(1), day(LEDGER_DAYS)]);
    expect(read.get(day(0))).toEqual({});
    expect(read.get(day(1))?.['claude-sonnet-4-5']?.calls).toBe(1);
    expect(read.get(day(LEDGER_DAYS))?.['claude-sonnet-4-5']?.calls).toBe(1);
  });
});
