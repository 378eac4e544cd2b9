// Once per test run: a throwaway PostgreSQL cluster for the suites of BullMQ 6's
// PostgreSQL backend (each test file creates its own database on it), unless
// JOBWATCH_TEST_POSTGRES_URL names a server to use instead. Tests never touch
// the machine's own PostgreSQL.
import type { TestProject } from 'vitest/node';
import { PostgresCluster } from './helpers/postgres-cluster.js';

declare module 'vitest' {
  export interface ProvidedContext {
    postgresAdminUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<(() => void) | undefined> {
  if (process.env.JOBWATCH_TEST_POSTGRES_URL) return undefined;
  if (!PostgresCluster.installed()) {
    console.warn('global-setup: no PostgreSQL server programs; the PostgreSQL suites will fail');
    return undefined;
  }
  const cluster = await PostgresCluster.start();
  project.provide('postgresAdminUrl', cluster.adminUrl);
  return () => cluster.close();
}
