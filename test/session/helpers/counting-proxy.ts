/**
 * A TCP proxy on loopback between a Redis client and a real Redis that records what crosses it: each
 * command the client sends (name, keys and arguments as text) and each round trip.
 *
 * A round trip is counted on one connection each time the client writes while it has no reply
 * outstanding: the write and everything written before the last reply came back travel together, so the
 * client waited for Redis once. Commands sent in one burst (a pipeline, or `Promise.all` over two calls)
 * share a trip; commands sent one after another each cost one. Messages the server sends that answer no
 * command (pub/sub pushes) are not replies.
 *
 * It speaks just enough RESP2 to find where each command and each reply ends; the bytes are forwarded as
 * they come.
 */
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';

export interface RecordedCommand {
  /** Upper-case command name (`EVALSHA`, `GET`, ...). */
  name: string;
  /** Every argument as text (binary arguments are decoded as latin1). */
  args: string[];
}

export interface RoundTrip {
  /** The proxied connection, numbered from 1 in the order the client opened them. */
  connection: number;
  /** performance.now() when the first byte of the trip arrived from the client. */
  at: number;
  commands: RecordedCommand[];
}

export interface CountingProxy {
  readonly port: number;
  /** Every round trip so far, in the order they began. */
  readonly trips: RoundTrip[];
  close(): Promise<void>;
}

/**
 * The offset just past one complete RESP2 value starting at `at` in `buf`, or -1 when `buf` ends first.
 * `out`, when given, receives the elements of an array of bulk strings (a command).
 */
function endOfValue(buf: Buffer, at: number, out?: string[]): number {
  if (at >= buf.length) return -1;
  const lineEnd = buf.indexOf('\r\n', at);
  if (lineEnd < 0) return -1;
  const type = String.fromCharCode(buf[at]!);
  const header = buf.toString('latin1', at + 1, lineEnd);
  const next = lineEnd + 2;
  switch (type) {
    case '+':
    case '-':
    case ':':
      return next;
    case '$': {
      const len = Number(header);
      if (len < 0) return next;
      if (buf.length < next + len + 2) return -1;
      out?.push(buf.toString('latin1', next, next + len));
      return next + len + 2;
    }
    case '*': {
      const count = Number(header);
      let pos = next;
      for (let i = 0; i < count; i++) {
        pos = endOfValue(buf, pos, out);
        if (pos < 0) return -1;
      }
      return pos;
    }
    default:
      // An inline command (redis-cli style): one line.
      out?.push(...buf.toString('latin1', at, lineEnd).split(' '));
      return next;
  }
}

/** Starts the proxy on 127.0.0.1 (a free port) in front of `target`. */
export async function startCountingProxy(target: { host: string; port: number }): Promise<CountingProxy> {
  const trips: RoundTrip[] = [];
  const sockets = new Set<Socket>();
  let connections = 0;

  const server: Server = createServer((client) => {
    const id = ++connections;
    const upstream = connect(target.port, target.host);
    sockets.add(client).add(upstream);
    let fromClient = Buffer.alloc(0);
    let fromServer = Buffer.alloc(0);
    let outstanding = 0;
    let trip: RoundTrip | undefined;

    client.on('data', (chunk: Buffer) => {
      upstream.write(chunk);
      // A new trip: nothing outstanding and no command half-received (a command may span two chunks).
      if ((outstanding === 0 && fromClient.length === 0) || !trip) {
        trip = { connection: id, at: performance.now(), commands: [] };
        trips.push(trip);
      }
      fromClient = Buffer.concat([fromClient, chunk]);
      for (;;) {
        const parts: string[] = [];
        const end = endOfValue(fromClient, 0, parts);
        if (end < 0) break;
        fromClient = fromClient.subarray(end);
        outstanding++;
        trip.commands.push({ name: (parts[0] ?? '').toUpperCase(), args: parts.slice(1) });
      }
    });
    upstream.on('data', (chunk: Buffer) => {
      client.write(chunk);
      fromServer = Buffer.concat([fromServer, chunk]);
      for (;;) {
        const end = endOfValue(fromServer, 0);
        if (end < 0) break;
        fromServer = fromServer.subarray(end);
        if (outstanding > 0) outstanding--;
      }
    });
    const closeBoth = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', closeBoth).on('error', closeBoth);
    upstream.on('close', closeBoth).on('error', closeBoth);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));

  return {
    port: (server.address() as AddressInfo).port,
    trips,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
