// assess(), the one liveness rule behind every verdict (gauges, alerts, the
// CLI, /health/queues), as a table: every state, the boundaries between them,
// and the clock cases (a store clock behind the last beat, silence measured
// in the writer's own interval).
import { describe, expect, it } from 'vitest';
import type { InstanceFields } from '../../src/registry/entry.js';
import { assess, effectiveRetentionMs, MIN_ZERO_VISIBLE_MS } from '../../src/registry/liveness.js';
import { writtenFields } from '../helpers/registry-fields.js';

const BEAT = 1_000_000; // the store's ms of the last beat
const INTERVAL = 5000;
/** No jobs in flight or done: only the beats decide. */
const IDLE = { processed: 0, failed: 0, stalled: 0, active: 0, oldestActiveMs: 0 };

function entry(over: Partial<InstanceFields> = {}): InstanceFields {
  return {
    ...writtenFields('w1', { host: 'h', pid: 1, intervalMs: INTERVAL, ...IDLE }),
    startedAt: BEAT - 60_000,
    lastBeat: BEAT,
    stoppedAt: 0,
    ...over,
  };
}

const task = (over: Partial<InstanceFields> = {}) =>
  entry({ kind: 'task', queue: '', taskIntervalMs: 1000, ...over });

describe('assess()', () => {
  it.each([
    // label, entry, now, state, alive, validUntil
    ['a fresh beat', entry(), BEAT, 'running', true, BEAT + 3 * INTERVAL],
    [
      '3 intervals of silence exactly',
      entry(),
      BEAT + 3 * INTERVAL,
      'running',
      true,
      BEAT + 15_000,
    ],
    ['1 ms past 3 intervals', entry(), BEAT + 3 * INTERVAL + 1, 'dead', false, Infinity],
    ['the store clock behind the beat', entry(), BEAT - 10_000, 'running', true, BEAT + 15_000],
    [
      'a slow writer, judged by its own interval',
      entry({ intervalMs: 60_000 }),
      BEAT + 100_000,
      'running',
      true,
      BEAT + 180_000,
    ],
    [
      'stopped, long ago',
      entry({ status: 'stopped', reason: 'deploy' }),
      BEAT + 10 ** 9,
      'stopped',
      false,
      Infinity,
    ],
    [
      'stopped wins over silence',
      entry({ status: 'stopped' }),
      BEAT + 3 * INTERVAL + 1,
      'stopped',
      false,
      Infinity,
    ],
    [
      'written hung',
      entry({ status: 'hung', reason: 'stuck' }),
      BEAT,
      'hung',
      false,
      BEAT + 15_000,
    ],
    [
      'written hung, then silent',
      entry({ status: 'hung' }),
      BEAT + 3 * INTERVAL + 1,
      'dead',
      false,
      Infinity,
    ],
  ] as const)('%s', (_label, e, now, state, alive, validUntil) => {
    const verdict = assess(e, now);
    expect(verdict).toMatchObject({ state, alive, validUntil });
  });

  describe('a stuck job (JOBWATCH_STUCK_JOB_MS)', () => {
    const stuck = (oldestActiveMs: number) =>
      entry({ stuckJobMs: 10_000, oldestActiveMs, active: 1 });

    it.each([
      ['younger than the limit', stuck(4000), BEAT, 'running', BEAT + 6000],
      ['at the limit', stuck(10_000), BEAT, 'running', BEAT],
      ['older than the limit', stuck(10_001), BEAT, 'hung', BEAT + 15_000],
      [
        'aged past it by the silence since the beat',
        stuck(4000),
        BEAT + 6001,
        'hung',
        BEAT + 15_000,
      ],
      ['no active job', entry({ stuckJobMs: 10_000 }), BEAT + 14_000, 'running', BEAT + 15_000],
      [
        'the setting off',
        entry({ oldestActiveMs: 10 ** 7, active: 1 }),
        BEAT,
        'running',
        BEAT + 15_000,
      ],
    ] as const)('%s', (_label, e, now, state, validUntil) => {
      const verdict = assess(e, now);
      expect(verdict.state).toBe(state);
      expect(verdict.validUntil).toBe(validUntil);
      if (state === 'hung') expect(verdict.reason).toMatch(/a job has been active for \d+\.\d s/);
    });
  });

  describe('a watch()ed loop', () => {
    it.each([
      ['beat just now', task(), BEAT, 'running', BEAT + 3000],
      ['3 of its intervals without beat()', task({ sinceTaskBeatMs: 3000 }), BEAT, 'running', BEAT],
      ['past 3 of its intervals', task({ sinceTaskBeatMs: 3001 }), BEAT, 'hung', BEAT + 15_000],
      [
        'the silence since the heartbeat counts',
        task({ sinceTaskBeatMs: 2000 }),
        BEAT + 1001,
        'hung',
        BEAT + 15_000,
      ],
      ['its process dead', task(), BEAT + 15_001, 'dead', Infinity],
    ] as const)('%s', (_label, e, now, state, validUntil) => {
      const verdict = assess(e, now);
      expect(verdict.state).toBe(state);
      expect(verdict.validUntil).toBe(validUntil);
      if (state === 'hung')
        expect(verdict.reason).toMatch(/^no beat\(\) for [\d.]+ s \(expected every 1\.0 s\)$/);
    });
  });

  it('says why an instance is dead, in its own intervals', () => {
    expect(assess(entry(), BEAT + 20_000).reason).toBe(
      'no heartbeat for 20.0 s (4 beats of 5.0 s missed): the process was killed, crashed, lost its registry, or its event loop is blocked',
    );
  });

  it("keeps a running instance its writer's note, and a stopped one its stop reason", () => {
    expect(assess(entry({ reason: 'recovered: blocked' }), BEAT).reason).toBe('recovered: blocked');
    expect(assess(entry({ status: 'stopped', reason: '' }), BEAT).reason).toBe('stopped');
  });
});

describe('effectiveRetentionMs()', () => {
  it('keeps a dead worker in the registry long enough for a down alert to fire', () => {
    expect(effectiveRetentionMs(15 * 60_000, 5000)).toBe(15 * 60_000);
    expect(effectiveRetentionMs(60_000, 5000)).toBe(15_000 + MIN_ZERO_VISIBLE_MS);
    expect(effectiveRetentionMs(60_000, 600_000)).toBe(1_800_000 + MIN_ZERO_VISIBLE_MS);
  });
});
