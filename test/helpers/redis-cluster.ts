// A real Redis Cluster for a test file: three masters (no replicas) on free
// ports, each its own redis-server, joined with `redis-cli --cluster create`.
import { type ChildProcess, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster } from 'ioredis';
import { redisServerArgs } from '../../examples/redis-server-args.mjs';
import { spawnLogged } from './daemon.js';
import { booted, canListen, Exited, freePort, onFreshPorts, waitFor } from './ports.js';

export class RedisCluster {
  private readonly children: ChildProcess[] = [];
  private readonly dir = mkdtempSync(join(tmpdir(), 'jobwatch-cluster-'));

  private constructor(readonly ports: number[]) {}

  static start(masters = 3): Promise<RedisCluster> {
    return onFreshPorts(async () =>
      booted(new RedisCluster(await nodePorts(masters)), (cluster) => cluster.boot()),
    );
  }

  /** Seed nodes as redis:// URLs (comma-separated, the form jobwatch takes for a cluster). */
  get urls(): string {
    return this.ports.map((p) => `redis://127.0.0.1:${p}`).join(',');
  }

  get nodes(): { host: string; port: number }[] {
    return this.ports.map((port) => ({ host: '127.0.0.1', port }));
  }

  /** Creates ACL user `name` (password `pw`) with `rules` on every master; returns its seed URLs. */
  aclUser(name: string, rules: string[]): string {
    for (const port of this.ports) {
      const set = cli(port, 'ACL', 'SETUSER', name, 'reset', 'on', '>pw', '&*', ...rules);
      if (set !== 'OK') throw new Error(`ACL SETUSER ${name} on ${port}: ${set}`);
    }
    return this.ports.map((p) => `redis://${name}:pw@127.0.0.1:${p}`).join(',');
  }

  /** A fresh ioredis Cluster client (the caller quits it). */
  client(): Cluster {
    return new Cluster(this.nodes);
  }

  private async boot(): Promise<void> {
    const logs: (() => string)[] = [];
    for (const port of this.ports) {
      const dir = join(this.dir, String(port));
      spawnSync('mkdir', ['-p', dir]);
      const { child, log } = spawnLogged('redis-server', [
        ...redisServerArgs(port, dir),
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        join(dir, 'nodes.conf'),
      ]);
      this.children.push(child);
      logs.push(log);
    }
    await waitFor(
      () => {
        const exited = this.children.findIndex((child) => child.exitCode !== null);
        if (exited >= 0)
          throw new Exited(`cluster node on ${this.ports[exited]} exited: ${logs[exited]!()}`);
        return this.ports.every((p) => cli(p, 'ping') === 'PONG');
      },
      { what: 'cluster nodes up' },
    );
    const create = spawnSync(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...this.ports.map((p) => `127.0.0.1:${p}`),
        '--cluster-replicas',
        '0',
        '--cluster-yes',
      ],
      { encoding: 'utf8' },
    );
    if (create.status !== 0)
      throw new Error(`redis-cli --cluster create failed: ${create.stdout}${create.stderr}`);
    await waitFor(
      () => this.ports.every((p) => /cluster_state:ok/.test(cli(p, 'cluster', 'info'))),
      { what: 'cluster_state:ok on every node' },
    );
  }

  async close(): Promise<void> {
    await Promise.all(
      this.children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGKILL');
          }),
      ),
    );
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Distinct free ports whose cluster bus ports (port + 10000) are free too. */
async function nodePorts(masters: number): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < masters) {
    const port = await freePort();
    if (port < 55_000 && !ports.includes(port) && (await canListen(port + 10_000)))
      ports.push(port);
  }
  return ports;
}

function cli(port: number, ...args: string[]): string {
  return spawnSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8' }).stdout.trim();
}
