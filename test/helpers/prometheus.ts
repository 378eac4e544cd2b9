// A real Prometheus on a free port, for tests that need rules evaluated and
// queries answered exactly as production does. Each server gets its own
// config and TSDB directory, removed on stop().
import { join } from 'node:path';
import { stringify } from 'yaml';
import { Daemon } from './daemon.js';
import { waitFor } from './ports.js';

export interface ScrapeJob {
  job: string;
  targets: string[];
  honorLabels?: boolean;
}

export interface PrometheusOptions {
  scrapeJobs?: ScrapeJob[];
  /** Rule files, loaded as they are (see rules-override.ts for test timings). */
  ruleFiles?: string[];
  /** host:port of Alertmanagers to send alerts to. */
  alertmanagers?: string[];
  scrapeInterval?: string;
  evaluationInterval?: string;
}

export interface Sample {
  metric: Record<string, string>;
  value: number;
}

export interface ActiveAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing';
}

export class PrometheusServer extends Daemon {
  static async start(options: PrometheusOptions = {}): Promise<PrometheusServer> {
    return new PrometheusServer(
      await Daemon.launch({
        command: 'prometheus',
        configName: 'prometheus.yml',
        configText: stringify(prometheusConfig(options)),
        args: (dir, configFile, port) => [
          `--config.file=${configFile}`,
          `--storage.tsdb.path=${join(dir, 'data')}`,
          `--web.listen-address=127.0.0.1:${port}`,
          '--log.level=warn',
        ],
      }),
    );
  }

  /** GET /api/v1/<path>; throws with Prometheus' own error text when the call fails. */
  async api<T>(path: string, params: Record<string, string> = {}): Promise<T> {
    const res = await fetch(`${this.url}/api/v1/${path}?${new URLSearchParams(params)}`);
    const body = (await res.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`prometheus ${path}: ${body.error}`);
    return body.data;
  }

  /** An instant query; scalars and strings are returned as one unlabelled sample. */
  async query(expr: string): Promise<Sample[]> {
    const data = await this.api<{ resultType: string; result: any }>('query', { query: expr });
    if (data.resultType === 'vector')
      return data.result.map((r: any) => ({ metric: r.metric, value: Number(r.value[1]) }));
    if (data.resultType === 'matrix')
      return data.result.map((r: any) => ({ metric: r.metric, value: Number(r.values.at(-1)[1]) }));
    return [{ metric: {}, value: Number(data.result[1]) }];
  }

  /** A range query over the last `seconds`, as a dashboard panel sends it. */
  async queryRange(
    expr: string,
    seconds: number,
    step = 1,
  ): Promise<{ metric: Record<string, string>; values: [number, string][] }[]> {
    const end = Date.now() / 1000;
    const data = await this.api<{ result: any[] }>('query_range', {
      query: expr,
      start: String(end - seconds),
      end: String(end),
      step: String(step),
    });
    return data.result;
  }

  async alerts(): Promise<ActiveAlert[]> {
    return (await this.api<{ alerts: ActiveAlert[] }>('alerts')).alerts;
  }

  /** Resolves once every target of `job` has been scraped successfully. */
  async waitForTargets(job: string, timeoutMs = 20_000): Promise<void> {
    await waitFor(
      async () => {
        const up = await this.query(`up{job="${job}"}`);
        return up.length > 0 && up.every((s) => s.value === 1);
      },
      { timeoutMs, what: `prometheus targets of ${job} up` },
    );
  }
}

function prometheusConfig(o: PrometheusOptions) {
  return {
    global: {
      scrape_interval: o.scrapeInterval ?? '1s',
      scrape_timeout: '1s',
      evaluation_interval: o.evaluationInterval ?? '1s',
    },
    rule_files: o.ruleFiles ?? [],
    alerting: o.alertmanagers?.length
      ? { alertmanagers: [{ static_configs: [{ targets: o.alertmanagers }] }] }
      : undefined,
    scrape_configs: (o.scrapeJobs ?? []).map((j) => ({
      job_name: j.job,
      honor_labels: j.honorLabels ?? false,
      static_configs: [{ targets: j.targets }],
    })),
  };
}
