// User code keeps its context: an HTTP call made from a Queue, Worker or QueueEvents
// listener is traced as it would be without jobwatch, and a listener of a
// job's event (the Queue's 'waiting', the Worker's 'active', 'completed',
// 'failed') carries that job's trace.
import { describe, expect, it } from 'vitest';
import { BULLMQ_MAJORS } from '../helpers/bullmq-majors.js';
import { spawnNode } from '../helpers/node-process.js';
import { waitFor } from '../helpers/ports.js';
import { SPAN_KIND, usePreloadedSetup } from '../helpers/preloaded.js';

const setup = usePreloadedSetup();

/** The traceparent each listener's call carried, by "event id". */
function sinkCalls(stdout: string): Map<string, string> {
  return new Map(
    [...stdout.matchAll(/^sink (\S+) (\S+) (\S+)$/gm)].map((m) => [`${m[1]} ${m[2]}`, m[3]!]),
  );
}

describe.each([6, 5] as const)('BullMQ %i', (major) => {
  it("runs the app's listeners in the job's trace, with tracing on", async () => {
    const queueName = `listeners-${major}`;
    const app = spawnNode(
      ['--require', 'jobwatch/register', 'test/fixtures/listener-app.cjs'],
      await setup.env({ QUEUE: queueName, BULLMQ_PATH: BULLMQ_MAJORS[major] }),
    );
    const added = (name: string) => new RegExp(`^added ${name} (\\S+)$`, 'm').exec(app.stdout)?.[1];
    const ok = { id: await waitFor(() => added('ok'), { what: 'the jobs' }) };
    const failing = { id: await waitFor(() => added('fail'), { what: 'the jobs' }) };

    const calls = await waitFor(
      () => {
        const c = sinkCalls(app.stdout);
        return c.has(`completed ${ok.id}`) &&
          c.has(`waiting ${ok.id}`) &&
          c.has(`failed ${failing.id}`) &&
          c.has(`queue-events-completed ${ok.id}`)
          ? c
          : undefined;
      },
      { what: 'the listeners’ calls' },
    );
    const traceOf = (id: string) =>
      waitFor(
        () =>
          setup.receiver.spans.find(
            (s) => s.kind === SPAN_KIND.CONSUMER && s.attributes['messaging.message.id'] === id,
          )?.traceId,
        { what: `the process span of job ${id}`, timeoutMs: 20_000 },
      );
    const okTrace = await traceOf(ok.id!);
    const failedTrace = await traceOf(failing.id!);
    const traceIn = (traceparent: string | undefined) => traceparent?.split('-')[1];
    expect(traceIn(calls.get(`waiting ${ok.id}`))).toBe(okTrace);
    expect(traceIn(calls.get(`active ${ok.id}`))).toBe(okTrace);
    expect(traceIn(calls.get(`completed ${ok.id}`))).toBe(okTrace);
    expect(traceIn(calls.get(`failed ${failing.id}`))).toBe(failedTrace);
    // QueueEvents carries no job object: its listener's call is traced on its own
    expect(calls.get(`queue-events-completed ${ok.id}`)).toMatch(/^00-[0-9a-f]{32}-/);
  });
});
