// Which lifecycle event a change of an instance's state records (src/health/events.ts).
import { expect, it } from 'vitest';
import { changeOf } from '../../src/health/events.js';

it.each([
  [undefined, 'running', 'bullmq.worker.started'],
  [undefined, 'paused', 'bullmq.worker.started'],
  [undefined, 'dead', 'bullmq.worker.dead'],
  ['running', 'dead', 'bullmq.worker.dead'],
  ['running', 'hung', 'bullmq.worker.hung'],
  ['paused', 'hung', 'bullmq.worker.hung'],
  ['hung', 'dead', 'bullmq.worker.dead'],
  ['running', 'stopped', 'bullmq.worker.stopped'],
  ['dead', 'running', 'bullmq.worker.recovered'],
  ['hung', 'running', 'bullmq.worker.recovered'],
  ['running', 'paused', 'bullmq.worker.paused'],
  ['paused', 'running', 'bullmq.worker.resumed'],
  ['running', 'running', undefined],
  ['dead', 'dead', undefined],
] as const)('%s → %s: %s', (from, to, event) => {
  expect(changeOf(from, to)?.event).toBe(event);
});
