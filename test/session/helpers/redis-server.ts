/**
 * Throw-away redis-server processes for tests: standalone, a Cluster (three masters, with or without a
 * replica each), a Sentinel. Every process started here is killed when its test file ends (call `stopAll` in
 * afterAll) and, as a last resort, when the worker exits.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';

const run = promisify(execFile);
const running = new Set<ChildProcess>();
const dirs = new Set<string>();

process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A free loopback port in 20000-29999 whose Cluster bus port (+10000) is free too. */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = 20000 + Math.floor(Math.random() * 10000);
    if ((await portIsFree(port)) && (await portIsFree(port + 10000))) return port;
  }
  throw new Error('no free port found');
}

export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'kiunga-redis-'));
  dirs.add(dir);
  return dir;
}

/** Runs redis-cli against a port and returns its output. */
export async function cli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 5000 });
  return stdout;
}

/** One field of `INFO <section>` on a port (`process_id`, `role`, `master_repl_offset`...); throws when absent. */
export async function infoField(port: number, section: string, field: string): Promise<string> {
  const value = new RegExp(`^${field}:(\\S+)`, 'm').exec(await cli(port, 'info', section))?.[1];
  if (value === undefined) throw new Error(`no ${field} in INFO ${section} of port ${port}`);
  return value;
}

export interface ClusterNode {
  id: string;
  port: number;
  flags: string[];
  masterId: string;
  slots: [number, number][];
}

/** CLUSTER NODES as seen from `port`. */
export async function clusterNodes(port: number): Promise<ClusterNode[]> {
  const lines = (await cli(port, 'cluster', 'nodes')).trim().split('\n');
  return lines.map((line) => {
    const [id = '', address = '', flags = '', masterId = '', , , , , ...slots] = line.trim().split(' ');
    return {
      id,
      port: Number(address.split('@')[0]!.split(':')[1]),
      flags: flags.split(','),
      masterId,
      // "0-5460" or "5461"; "[slot->-id]" entries (a migration in progress) never occur here.
      slots: slots.map((range) => {
        const [from, to = from] = range.split('-').map(Number);
        return [from!, to!] as [number, number];
      }),
    };
  });
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await sleep(25);
  }
  throw new Error(`timed out waiting for ${what}`);
}

export interface RedisProcess {
  port: number;
  url: string;
  /** SIGKILL, then wait for the process to be gone. */
  kill(): Promise<void>;
  /** Starts the server again on the same port and waits for PING. */
  restart(): Promise<void>;
}

/** Starts `redis-server` on loopback with no persistence; `extra` are further config arguments. */
export async function startRedis(options: { port?: number; extra?: string[]; configFile?: string } = {}): Promise<RedisProcess> {
  const port = options.port ?? (await freePort());
  const dir = tempDir();
  const args = [
    ...(options.configFile ? [options.configFile] : []),
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    dir,
    ...(options.extra ?? []),
  ];
  let child: ChildProcess | undefined;

  const start = async () => {
    const proc = spawn('redis-server', args, { stdio: 'ignore' });
    running.add(proc);
    proc.once('exit', () => running.delete(proc));
    child = proc;
    // A server with requirepass answers NOAUTH: it is up all the same.
    await waitFor(async () => /PONG|NOAUTH/.test(await cli(port, 'ping')), 5000, `redis-server on ${port}`);
  };
  await start();

  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    async kill() {
      const proc = child;
      if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise((resolve) => proc.once('exit', resolve));
      proc.kill('SIGKILL');
      await exited;
    },
    restart: start,
  };
}

export interface ClusterOptions {
  /** Replicas per master (default 0: three masters only; 1: three masters and three replicas). */
  replicas?: number;
  /** `cluster-node-timeout` in ms (default 2000): how long a silent node takes to be failed over. */
  nodeTimeoutMs?: number;
  /**
   * `cluster-require-full-coverage` (default true, as Redis's own default): false lets the other masters serve
   * their slots while one is failed (src/session/cluster-coverage.ts).
   */
  requireFullCoverage?: boolean;
}

/**
 * Starts three masters (and `replicas` replicas of each) on free ports, joins them into a Cluster and waits
 * for cluster_state:ok on every node. `nodes` lists the processes in the order given to `--cluster create`.
 */
export async function startCluster(options: ClusterOptions = {}): Promise<{ nodes: RedisProcess[]; url: string }> {
  const { replicas = 0, nodeTimeoutMs = 2000, requireFullCoverage = true } = options;
  const dir = tempDir();
  const nodes: RedisProcess[] = [];
  for (let i = 0; i < 3 * (1 + replicas); i++) {
    nodes.push(
      await startRedis({
        extra: [
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          join(dir, `nodes-${i}.conf`),
          '--cluster-node-timeout',
          String(nodeTimeoutMs),
          '--cluster-require-full-coverage',
          requireFullCoverage ? 'yes' : 'no',
        ],
      }),
    );
  }
  const addresses = nodes.map((n) => `127.0.0.1:${n.port}`);
  await run('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', String(replicas), '--cluster-yes'], {
    timeout: 15_000,
  });
  for (const node of nodes) {
    await waitFor(async () => (await cli(node.port, 'cluster', 'info')).includes('cluster_state:ok'), 10_000, 'cluster_state:ok');
  }
  // cluster_state:ok says nothing of replication: a replica that has not synced with its master yet would refuse
  // to be promoted. Wait until every replica's link to its master is up.
  if (replicas > 0) {
    const synced = async () => {
      const roles = await Promise.all(nodes.map((node) => cli(node.port, 'info', 'replication')));
      const replicasUp = roles.filter((info) => info.includes('role:slave') && info.includes('master_link_status:up'));
      return replicasUp.length === 3 * replicas;
    };
    await waitFor(synced, 10_000, 'every replica in sync with its master');
  }
  return { nodes, url: `redis-cluster://${addresses.join(',')}` };
}

/** Starts a master and one Sentinel watching it as `masterName`. */
export async function startSentinel(masterName: string): Promise<{ master: RedisProcess; sentinel: RedisProcess; url: string }> {
  const master = await startRedis();
  const sentinelPort = await freePort();
  const configFile = join(tempDir(), 'sentinel.conf');
  writeFileSync(
    configFile,
    `sentinel monitor ${masterName} 127.0.0.1 ${master.port} 1\nsentinel down-after-milliseconds ${masterName} 5000\n`,
  );
  const sentinel = await startRedis({ port: sentinelPort, configFile, extra: ['--sentinel'] });
  return { master, sentinel, url: `redis-sentinel://127.0.0.1:${sentinelPort}/${masterName}` };
}

/** Kills every server started by this file's tests and removes their directories. */
export async function stopAll(): Promise<void> {
  await Promise.all(
    [...running].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs.clear();
}
