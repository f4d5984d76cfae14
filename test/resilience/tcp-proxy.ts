/**
 * A TCP proxy on loopback between one Kiunga process and Redis, that a scenario can black-hole and heal: a
 * network partition with both ends alive (docs/resilience.md).
 *
 * Black-holed, it stops forwarding in both directions without closing anything: each socket is paused, so
 * what either end sends waits in the buffers, unanswered, as a partition leaves a connection open with its
 * segments unacknowledged. Healed, the held bytes flow again in order, as TCP's retransmissions deliver them
 * after a short partition: a command the client gave up on (its timeout) still runs on Redis, late. A
 * connection opened during the partition is accepted and held (nothing reaches Redis, no answer comes) and
 * joined to Redis when the partition heals.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

interface Pair {
  client: Socket;
  upstream?: Socket;
}

export class TcpProxy {
  readonly #pairs = new Set<Pair>();
  #server: Server | undefined;
  #port = 0;
  #down = false;

  /** `target`: where to forward; `template`: the URL the client would use directly (its scheme, credentials, db kept). */
  constructor(
    private target: { host: string; port: number },
    private readonly template = 'redis://127.0.0.1',
  ) {}

  /**
   * Forwards the connections opened from now on to `target`; those open stay where they are, as when a DNS name
   * (a managed Redis's primary endpoint) moves to another server.
   */
  retarget(target: { host: string; port: number }): void {
    this.target = target;
  }

  /** Starts listening on a free loopback port. */
  async start(): Promise<this> {
    const server = createServer((client) => this.#accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    if (!address || typeof address === 'string') throw new Error('proxy without a port');
    this.#port = address.port;
    this.#server = server;
    return this;
  }

  /** The URL to give the process behind the proxy: the template's, on the proxy's address. */
  get url(): string {
    const url = new URL(this.template);
    url.hostname = '127.0.0.1';
    url.port = String(this.#port);
    return url.toString().replace(/\/$/, '');
  }

  /** The loopback port it listens on (0 before `start`). */
  get port(): number {
    return this.#port;
  }

  get partitioned(): boolean {
    return this.#down;
  }

  /** Connections open through the proxy (both ends). */
  get connections(): number {
    return this.#pairs.size;
  }

  /** Stops forwarding both ways; every connection stays open. */
  blackhole(): void {
    this.#down = true;
    for (const { client, upstream } of this.#pairs) {
      client.pause();
      upstream?.pause();
    }
  }

  /** Forwards again: held bytes first, then new ones; connections accepted meanwhile are joined to the target. */
  heal(): void {
    this.#down = false;
    for (const pair of this.#pairs) {
      if (pair.upstream) {
        pair.client.resume();
        pair.upstream.resume();
      } else this.#join(pair);
    }
  }

  async close(): Promise<void> {
    for (const { client, upstream } of this.#pairs) {
      client.destroy();
      upstream?.destroy();
    }
    this.#pairs.clear();
    const server = this.#server;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  #accept(client: Socket): void {
    const pair: Pair = { client };
    this.#pairs.add(pair);
    client.pause();
    client.on('error', () => undefined);
    client.on('close', () => {
      pair.upstream?.destroy();
      this.#pairs.delete(pair);
    });
    if (!this.#down) this.#join(pair);
  }

  #join(pair: Pair): void {
    const { client } = pair;
    const upstream = connect(this.target.port, this.target.host);
    pair.upstream = upstream;
    upstream.on('error', () => undefined);
    upstream.on('close', () => client.destroy());
    this.#forward(client, upstream);
    this.#forward(upstream, client);
    if (!this.#down) client.resume();
    else upstream.pause();
  }

  /** Copies `from` to `to`, with back-pressure; a black-holed proxy leaves `from` paused. */
  #forward(from: Socket, to: Socket): void {
    from.on('data', (chunk: Buffer) => {
      if (!to.write(chunk)) {
        from.pause();
        to.once('drain', () => {
          if (!this.#down) from.resume();
        });
      }
    });
    from.on('end', () => to.end());
  }
}

/** A proxy to the Redis at `redisUrl` (redis://host:port), started. */
export async function startRedisProxy(redisUrl: string): Promise<TcpProxy> {
  const url = new URL(redisUrl);
  return new TcpProxy({ host: url.hostname || '127.0.0.1', port: Number(url.port || 6379) }, redisUrl).start();
}
