// A registry entry's written fields, as a heartbeat writes them: the defaults
// of a healthy running worker, for the tests of the stores, the liveness rule
// and the fleet view to override what they are about.
import type { WrittenFields } from '../../src/registry/entry.js';

export function writtenFields(id: string, over: Partial<WrittenFields> = {}): WrittenFields {
  return {
    id,
    kind: 'worker',
    name: 'mailer',
    queue: 'mail',
    host: 'host-1',
    pid: 4242,
    status: 'running',
    reason: '',
    intervalMs: 5000,
    processed: 7,
    failed: 2,
    stalled: 1,
    active: 3,
    oldestActiveMs: 1500,
    stuckJobMs: 0,
    sinceTaskBeatMs: 0,
    taskIntervalMs: 0,
    loopStuckMs: 0,
    loopLimitMs: 0,
    loopWhat: '',
    longestBlockMs: 0,
    jobwatchVersion: '9.9.9',
    bullmqVersion: '6.7.6',
    ...over,
  };
}
