// The demo API and worker from examples/, started exactly as in docker-compose.yml
// (the jobwatch preload, no jobwatch code) but natively, on free ports, with
// their own redis-server and a real Prometheus scraping them.
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { stopChild } from '../helpers/daemon.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { PrometheusServer } from '../helpers/prometheus.js';
import { RedisServer } from '../helpers/redis.js';
import { repoRoot } from '../helpers/rules-override.js';

export interface DemoStackOptions {
  /** Rule files for Prometheus (e.g. from writeOverriddenRules). */
  ruleFiles?: string[];
  alertmanagers?: string[];
  /** Extra environment for the API process (e.g. JOBWATCH_QUEUES). */
  apiEnv?: Record<string, string>;
  /** Extra environment for the worker process (e.g. FAIL_RATE). */
  workerEnv?: Record<string, string>;
}

/** Fast heartbeats so that a crash shows within a second or two. */
const fastHealth = {
  JOBWATCH_HEARTBEAT_INTERVAL_MS: '300',
  JOBWATCH_COLLECT_CACHE_MS: '200',
  OTEL_TRACES_EXPORTER: 'none',
};

export class DemoStack {
  worker: ChildProcess | undefined;
  private api: ChildProcess | undefined;
  private readonly output: string[] = [];

  prometheus!: PrometheusServer;

  private constructor(
    readonly redis: RedisServer,
    readonly ports: {
      api: number;
      apiMetrics: number;
      workerMetrics: number;
      workerHealth: number;
    },
    private readonly env: Pick<DemoStackOptions, 'apiEnv' | 'workerEnv'>,
  ) {}

  /** Starts the apps first, so that Prometheus' first scrape already sees the worker. */
  static async start(o: DemoStackOptions = {}): Promise<DemoStack> {
    const redis = await RedisServer.start();
    const ports = {
      api: await freePort(),
      apiMetrics: await freePort(),
      workerMetrics: await freePort(),
      workerHealth: await freePort(),
    };
    const stack = new DemoStack(redis, ports, o);
    try {
      stack.startApi();
      await waitFor(() => fetch(`${stack.apiUrl}/healthz`).then((r) => r.ok), {
        timeoutMs: 20_000,
        what: `the demo API (${stack.log()})`,
      });
      stack.startWorker();
      await waitFor(
        async () =>
          (await (await fetch(`${stack.workerMetricsUrl}`)).text()).includes('worker_status{'),
        { timeoutMs: 20_000, what: `the demo worker's worker_status (${stack.log()})` },
      );
      stack.prometheus = await PrometheusServer.start({
        ruleFiles: o.ruleFiles,
        alertmanagers: o.alertmanagers,
        // Job names follow OTEL_SERVICE_NAME, as in stack/prometheus.yml.
        scrapeJobs: [
          { job: 'demo-api', targets: [`127.0.0.1:${ports.apiMetrics}`] },
          { job: 'demo-worker', targets: [`127.0.0.1:${ports.workerMetrics}`] },
        ],
      });
    } catch (err) {
      await stack.stop();
      throw err;
    }
    return stack;
  }

  get apiUrl(): string {
    return `http://127.0.0.1:${this.ports.api}`;
  }

  get workerMetricsUrl(): string {
    return `http://127.0.0.1:${this.ports.workerMetrics}/metrics`;
  }

  /** Everything the demo processes printed, for failure messages. */
  log(): string {
    return this.output.join('').slice(-5000);
  }

  private spawnApp(name: string, preload: string, script: string, env: Record<string, string>) {
    const child = spawn(
      process.execPath,
      [preload, 'jobwatch/register', join('examples', script)],
      {
        cwd: repoRoot,
        env: {
          ...process.env,
          ...fastHealth,
          REDIS_URL: this.redis.url,
          OTEL_SERVICE_NAME: name,
          ...env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const keep = (d: Buffer) => this.output.push(`${name}: ${d}`);
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    return child;
  }

  private startApi(env: Record<string, string> = {}): void {
    this.api = this.spawnApp('demo-api', '--require', 'api.cjs', {
      ...this.env.apiEnv,
      ...env,
      PORT: String(this.ports.api),
      HOST: '127.0.0.1',
      OTEL_EXPORTER_PROMETHEUS_PORT: String(this.ports.apiMetrics),
    });
  }

  /** Starts (or restarts) the demo worker, an ES module, as docker-compose.yml does. */
  startWorker(): void {
    this.worker = this.spawnApp('demo-worker', '--import', 'worker.mjs', {
      ...this.env.workerEnv,
      OTEL_EXPORTER_PROMETHEUS_PORT: String(this.ports.workerMetrics),
      JOBWATCH_HEALTH_PORT: String(this.ports.workerHealth),
    });
  }

  /** Restarts the API with extra environment (SIGTERM, then start, then wait until it answers). */
  async restartApi(env: Record<string, string>): Promise<void> {
    await stopChild(this.api);
    this.startApi(env);
    await waitFor(() => fetch(`${this.apiUrl}/healthz`).then((r) => r.ok), {
      timeoutMs: 20_000,
      what: `the restarted demo API (${this.log()})`,
    });
  }

  /** SIGKILLs the worker (no chance to deregister) and waits until it is gone. */
  async killWorker(): Promise<void> {
    const worker = this.worker;
    if (!worker || worker.exitCode !== null || worker.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      worker.once('exit', () => resolve());
      worker.kill('SIGKILL');
    });
  }

  /** POSTs `n` orders to the demo API; returns their job ids. */
  async postOrders(n: number): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const res = await fetch(`${this.apiUrl}/orders`, { method: 'POST' });
      ids.push(((await res.json()) as { jobId: string }).jobId);
    }
    return ids;
  }

  async stop(): Promise<void> {
    await Promise.all([stopChild(this.worker), stopChild(this.api)]);
    await this.prometheus?.stop();
    await this.redis.close();
  }
}
