/**
 * A Redis master, its replica and three Sentinels (quorum 2) watching it, for the Sentinel scenarios
 * (docs/resilience.md). With `behindProxy`, the master is reachable only through a TCP proxy (tcp-proxy.ts):
 * the Sentinels monitor the proxy's address and the replica replicates from it, so Kiunga, which learns the
 * master's address from the Sentinels, reaches it only through the proxy too; black-holing the proxy cuts the
 * master off from everyone while it stays alive.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { cli, startRedis, tempDir, type RedisProcess } from '../session/helpers/redis-server.js';
import { TcpProxy } from './tcp-proxy.js';

export interface Sentinels {
  name: string;
  master: RedisProcess;
  replica: RedisProcess;
  sentinels: RedisProcess[];
  /** The proxy in front of the master (`behindProxy` only). */
  proxy?: TcpProxy;
  /** Kiunga's `REDIS_URL`: `redis-sentinel://` the three Sentinels `/name`. */
  url: string;
}

export async function startSentinels(name: string, options: { behindProxy?: boolean } = {}): Promise<Sentinels> {
  const master = await startRedis();
  const proxy = options.behindProxy ? await new TcpProxy({ host: '127.0.0.1', port: master.port }).start() : undefined;
  const masterPort = proxy?.port ?? master.port;
  const replica = await startRedis({ extra: ['--replicaof', '127.0.0.1', String(masterPort)] });
  const sentinels: RedisProcess[] = [];
  for (let i = 0; i < 3; i++) {
    const configFile = join(tempDir(), 'sentinel.conf');
    writeFileSync(
      configFile,
      [
        `sentinel monitor ${name} 127.0.0.1 ${masterPort} 2`,
        `sentinel down-after-milliseconds ${name} 1000`,
        `sentinel failover-timeout ${name} 5000`,
        `sentinel parallel-syncs ${name} 1`,
        '',
      ].join('\n'),
    );
    sentinels.push(await startRedis({ configFile, extra: ['--sentinel'] }));
  }
  // The Sentinels have found the replica and each other before anything fails.
  for (let i = 0; i < 100; i++) {
    const info = (await cli(sentinels[0]!.port, 'sentinel', 'master', name)).replace(/\n/g, ' ');
    if (/num-slaves\s+1/.test(info) && /num-other-sentinels\s+2/.test(info)) break;
    await sleep(100);
  }
  const url = `redis-sentinel://${sentinels.map((s) => `127.0.0.1:${s.port}`).join(',')}/${name}`;
  return { name, master, replica, sentinels, proxy, url };
}

/** Waits until the first Sentinel names `port` as the master's (the failover done); gives up after `timeoutMs`. */
export async function waitForMaster(s: Sentinels, port: number, timeoutMs = 15_000): Promise<void> {
  const until = performance.now() + timeoutMs;
  while (performance.now() < until) {
    const addr = await cli(s.sentinels[0]!.port, 'sentinel', 'get-master-addr-by-name', s.name).catch(() => '');
    if (addr.split('\n').includes(String(port))) return;
    await sleep(100);
  }
  throw new Error(`no failover to port ${port} after ${timeoutMs} ms`);
}
