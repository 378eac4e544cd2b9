// The demo API and worker from examples/, started exactly as in docker-compose.yml
// (the jobwatch preload, no jobwatch code) but natively, on free ports, with
// their own redis-server and a real Prometheus scraping them.
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { freePort, waitFor } from '../helpers/ports.js';
import { PrometheusServer, stopChild } from '../helpers/prometheus.js';
import { RedisServer } from '../helpers/redis.js';
import { repoRoot } from '../helpers/rules-override.js';

export interface DemoStackOptions {
  /** Rule files for Prometheus (e.g. from writeOverriddenRules). */
  ruleFiles?: string[];
  alertmanagers?: string[];
  /** Extra environment for the API process (e.g. JOBWATCH_QUEUES). */
  apiEnv?: Record<string, string>;
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

  private constructor(
    readonly redis: RedisServer,
    readonly prometheus: PrometheusServer,
    readonly ports: {
      api: number;
      apiMetrics: number;
      workerMetrics: number;
      workerHealth: number;
    },
    private readonly apiEnv: Record<string, string>,
  ) {}

  static async start(o: DemoStackOptions = {}): Promise<DemoStack> {
    const redis = await RedisServer.start();
    const [api, apiMetrics, workerMetrics, workerHealth] = [
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
    ] as [number, number, number, number];
    const prometheus = await PrometheusServer.start({
      ruleFiles: o.ruleFiles,
      alertmanagers: o.alertmanagers,
      // Job names follow OTEL_SERVICE_NAME, as in stack/prometheus.yml.
      scrapeJobs: [
        { job: 'demo-api', targets: [`127.0.0.1:${apiMetrics}`] },
        { job: 'demo-worker', targets: [`127.0.0.1:${workerMetrics}`] },
      ],
    });
    const stack = new DemoStack(
      redis,
      prometheus,
      { api, apiMetrics, workerMetrics, workerHealth },
      o.apiEnv ?? {},
    );
    stack.startApi();
    await waitFor(() => fetch(`${stack.apiUrl}/healthz`).then((r) => r.ok), {
      timeoutMs: 20_000,
      what: `the demo API (${stack.log()})`,
    });
    stack.startWorker();
    return stack;
  }

  get apiUrl(): string {
    return `http://127.0.0.1:${this.ports.api}`;
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

  private startApi(): void {
    this.api = this.spawnApp('demo-api', '--require', 'api.cjs', {
      ...this.apiEnv,
      PORT: String(this.ports.api),
      HOST: '127.0.0.1',
      OTEL_EXPORTER_PROMETHEUS_PORT: String(this.ports.apiMetrics),
    });
  }

  /** Starts (or restarts) the demo worker, an ES module, as docker-compose.yml does. */
  startWorker(env: Record<string, string> = {}): void {
    this.worker = this.spawnApp('demo-worker', '--import', 'worker.mjs', {
      OTEL_EXPORTER_PROMETHEUS_PORT: String(this.ports.workerMetrics),
      JOBWATCH_HEALTH_PORT: String(this.ports.workerHealth),
      ...env,
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
    await this.prometheus.stop();
    await this.redis.close();
  }
}
