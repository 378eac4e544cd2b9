// The BullMQ versions a test can load, as a spawned app loads them (see
// bullmq-under-test.cjs): the one under test (JOBWATCH_TEST_BULLMQ), and one
// of each major for the tests that mix them: 6 is the package's own
// dependency, 5 the newest 5 in test/versions.
import { createRequire } from 'node:module';

interface BullMQUnderTest {
  bullmqPath(wanted?: string): string;
  bullmqVersion(wanted?: string): string;
  compareVersions(a: string, b: string): number;
  matrixVersions(): string[];
}

export const { bullmqPath, bullmqVersion, compareVersions, matrixVersions } = createRequire(
  __filename,
)('./bullmq-under-test.cjs') as BullMQUnderTest;

/** The BullMQ under test: where it loads from, its version and major. */
export const BULLMQ_PATH = bullmqPath();
export const BULLMQ_VERSION = bullmqVersion();
export const BULLMQ_MAJOR = Number(BULLMQ_VERSION.split('.')[0]);

/** Whether the BullMQ under test is at least `version`, for tests of features BullMQ added later. */
export function bullmqAtLeast(version: string): boolean {
  return compareVersions(BULLMQ_VERSION, version) >= 0;
}

export const BULLMQ_MAJORS = { 6: bullmqPath(''), 5: bullmqPath('5') } as const;
