// A PostgreSQL cluster of the tests' own: initdb in a temporary directory, on
// a free port, trust auth for local connections only. The test run shares one
// (test/global-setup.ts); fault tests that stop the server start their own.
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';

const POSTGRES_LIB = '/usr/lib/postgresql';

/** A PostgreSQL cluster of the tests' own, which they may stop and restart. */
export class PostgresCluster {
  private constructor(
    readonly port: number,
    private readonly dir: string,
  ) {}

  /** True when PostgreSQL's server programs (initdb, pg_ctl) are installed. */
  static installed(): boolean {
    return existsSync(POSTGRES_LIB);
  }

  static async start(): Promise<PostgresCluster> {
    const dir = mkdtempSync(join(tmpdir(), 'jobwatch-pg-'));
    // The server refuses to run as root: as root, the cluster belongs to postgres.
    if (userInfo().uid === 0) {
      chownSync(dir, Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' })), -1);
    }
    serverProgram(
      'initdb',
      '-D',
      join(dir, 'data'),
      '-U',
      'postgres',
      '--auth=trust',
      '-E',
      'UTF8',
    );
    const cluster = new PostgresCluster(await freePort(), dir);
    cluster.resume();
    return cluster;
  }

  get adminUrl(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  /** Starts (or restarts, on the same port and data) the server; returns once it accepts connections. */
  resume(): void {
    const options = `-p ${this.port} -c listen_addresses=127.0.0.1 -k ${this.dir}`;
    const data = join(this.dir, 'data');
    serverProgram('pg_ctl', '-D', data, '-l', join(this.dir, 'log'), '-o', options, '-w', 'start');
  }

  /** Stops the server (fast shutdown: sessions are ended, committed data kept). */
  stop(): void {
    serverProgram('pg_ctl', '-D', join(this.dir, 'data'), '-m', 'fast', '-w', 'stop');
  }

  close(): void {
    try {
      this.stop();
    } catch {
      // already stopped
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Runs one of PostgreSQL's server programs (newest installed), as user postgres when this is root. */
function serverProgram(program: string, ...args: string[]): void {
  if (!existsSync(POSTGRES_LIB)) {
    throw new Error(
      `PostgreSQL's server programs are not installed (${POSTGRES_LIB}); scripts/run installs Debian's postgresql`,
    );
  }
  const version = readdirSync(POSTGRES_LIB).sort((a, b) => Number(b) - Number(a))[0]!;
  const bin = join(POSTGRES_LIB, version, 'bin', program);
  const [file, argv] =
    userInfo().uid === 0 ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
  execFileSync(file, argv, { stdio: 'ignore' });
}
