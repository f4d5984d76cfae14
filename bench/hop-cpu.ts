/**
 * `npm run bench:cpu`: process CPU per hop of Kiunga and of the minimal handler, one session at a time.
 *
 * The 64-session bench (`npm run bench`) moves by ±20% from run to run on a shared machine; CPU spent on
 * sequential sessions, read by each server from its own process, moves far less. Each server runs in a child
 * process of its own (so the driver's HTTP client is never counted), on the same Redis (REDIS_URL, a random
 * key prefix) and the same Fineract sandbox, itself a third child (its CPU is never counted either):
 *
 * - kiunga: the app built in the child as the e2e tests build it (`createServices` + `buildApp`, sources
 *   through tsx), with the bench's settings (bench/run.ts);
 * - minimal: bench/minimal-server.ts imported as is.
 *
 * The journey is the USSD balance of a returning customer: dial, PIN, `1` (3 hops), every reply checked. A
 * warm-up takes every customer through one session on each server first. Then RUNS rounds, interleaved
 * (minimal, kiunga, kiunga, minimal, ...), each of SESSIONS sequential sessions; a child reports
 * `process.cpuUsage()` (user + system, every thread) before and after each round over IPC. The figure is the
 * best round (the least disturbed by the rest of the machine), in µs per hop. The idle rate (CPU per second
 * with no traffic, measured for 2 s before the rounds: timers, the job queue's polls) is printed, and the
 * figure net of it as well, with the bytes allocated on the JavaScript heap per hop (the least of the rounds:
 * what the heap grew by between collections, from v8.GCProfiler, plus its growth since the last one).
 *
 * Options: --sessions=N (200), --runs=N (3), --customers=N (64), --cpu-prof (Kiunga writes a .cpuprofile of
 * the rounds to /tmp/kiunga-hop-prof; summarise with `npx tsx bench/profile-summary.ts /tmp/kiunga-hop-prof`),
 * --only=kiunga|minimal, --promises (promises created per hop, by an async hook), --by-hop (each round sends
 * the dial of every session, then every PIN, then every balance, and reads the CPU between them: the CPU per
 * hop of each of the three kinds). REDIS_URL (redis://127.0.0.1:6379).
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { BENCH_PEPPER, kiungaBenchEnv } from './kiunga-env.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const HERE = fileURLToPath(import.meta.url);

const option = (name: string, fallback: string) =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? (process.argv.includes(`--${name}`) ? 'true' : fallback);

type Role = 'kiunga' | 'minimal';
type ToChild = { cpu: true } | { profile: 'start' | 'stop' };
type FromChild =
  { listening: number } | { cpu: NodeJS.CpuUsage; wall: number; promises: number; allocated: number } | { profiled: 'start' | 'stop' };
const PROFILE_DIR = '/tmp/kiunga-hop-prof';
/** The hops of the journey, in order (--by-hop). */
const HOP_NAMES = ['dial', 'PIN', 'balance'] as const;

// ---------------------------------------------------------------- child: one server, reporting its CPU

async function child(role: Role): Promise<void> {
  let port: number;
  if (role === 'minimal') {
    port = Number(process.env.PORT);
    await import('./minimal-server.js');
  } else {
    const { loadConfig } = await import('../src/config.js');
    const { createServices } = await import('../src/services.js');
    const { buildApp } = await import('../src/app.js');
    const config = loadConfig(process.env);
    const services = await createServices(config);
    const server = buildApp(services).listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  }
  // --promises: every promise created is counted (an async hook: it costs CPU itself, so figures of such a run are not compared).
  let promises = 0;
  if (process.env.HOP_CPU_PROMISES) {
    const { createHook } = await import('node:async_hooks');
    createHook({
      init(_id, type) {
        if (type === 'PROMISE') promises++;
      },
    }).enable();
  }
  // Bytes allocated on the JavaScript heap since the last report: what the heap grew by between collections
  // (v8.GCProfiler reports the heap before and after each), plus its growth since the last one.
  const { GCProfiler, getHeapStatistics } = await import('node:v8');
  let gcs = new GCProfiler();
  let usedAfter = getHeapStatistics().used_heap_size;
  gcs.start();
  const allocatedSinceLast = () => {
    const { statistics } = gcs.stop();
    let allocated = 0;
    for (const gc of statistics) {
      allocated += gc.beforeGC.heapStatistics.usedHeapSize - usedAfter;
      usedAfter = gc.afterGC.heapStatistics.usedHeapSize;
    }
    const used = getHeapStatistics().used_heap_size;
    allocated += used - usedAfter;
    usedAfter = used;
    gcs = new GCProfiler();
    gcs.start();
    return allocated;
  };
  let session: import('node:inspector/promises').Session | undefined;
  process.on('message', (message: ToChild) => {
    if ('cpu' in message)
      process.send!({ cpu: process.cpuUsage(), wall: performance.now(), promises, allocated: allocatedSinceLast() } satisfies FromChild);
    else void profileStep(message.profile);
  });
  // The rounds only: start-up and the warm-up stay out of the profile.
  const profileStep = async (step: 'start' | 'stop') => {
    const { Session } = await import('node:inspector/promises');
    if (step === 'start') {
      session = new Session();
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.setSamplingInterval', { interval: 100 });
      await session.post('Profiler.start');
    } else if (session) {
      const { profile } = await session.post('Profiler.stop');
      const { mkdirSync, writeFileSync } = await import('node:fs');
      mkdirSync(PROFILE_DIR, { recursive: true });
      writeFileSync(`${PROFILE_DIR}/${role}-${process.pid}.cpuprofile`, JSON.stringify(profile));
      session.disconnect();
    }
    process.send!({ profiled: step } satisfies FromChild);
  };
  process.on('disconnect', () => process.exit(0));
  process.send!({ listening: port } satisfies FromChild);
}

// ---------------------------------------------------------------- parent: the driver

async function freePort(): Promise<number> {
  const srv = createServer().listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address() as AddressInfo;
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

interface Server {
  role: Role;
  proc: ChildProcess;
  url: string;
  cpu(): Promise<{ cpu: NodeJS.CpuUsage; wall: number; promises: number; allocated: number }>;
  profile(step: 'start' | 'stop'): Promise<void>;
}

async function startServer(role: Role, env: Record<string, string>, execArgv: string[]): Promise<Server> {
  const proc = fork(HERE, [`--child=${role}`], {
    env: { ...process.env, ...env, ...(process.argv.includes('--promises') ? { HOP_CPU_PROMISES: '1' } : {}) },
    execArgv: [...execArgv, '--import', 'tsx'],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const [first] = (await once(proc, 'message')) as [FromChild];
  if (!('listening' in first)) throw new Error(`${role} did not start`);
  return {
    role,
    proc,
    url: `http://127.0.0.1:${first.listening}`,
    async cpu() {
      proc.send({ cpu: true } satisfies ToChild);
      const [answer] = (await once(proc, 'message')) as [FromChild];
      if (!('cpu' in answer)) throw new Error('unexpected answer');
      return answer;
    },
    async profile(step) {
      proc.send({ profile: step } satisfies ToChild);
      await once(proc, 'message');
    },
  };
}

async function main(): Promise<void> {
  const sessions = Number(option('sessions', '200'));
  const runs = Number(option('runs', '3'));
  const customers = Number(option('customers', '64'));
  const profile = option('cpu-prof', '') === 'true';
  const only = option('only', '');
  const countPromises = option('promises', '') === 'true';
  const byHop = option('by-hop', '') === 'true';
  const prefix = `hopcpu-${randomBytes(3).toString('hex')}`;

  const { createRedisStore } = await import('../src/session/redis-store.js');
  const { createKeys } = await import('../src/session/keys.js');
  const { createPinService } = await import('../src/security/pin-service.js');
  const { SYNTHETIC_FIRST_ID, SYNTHETIC_PIN, syntheticMsisdn } = await import('../src/sandbox/synthetic.js');

  const children: ChildProcess[] = [];
  try {
    const sandboxPort = await freePort();
    const sandboxUrl = `http://127.0.0.1:${sandboxPort}`;
    const sandbox = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'sandbox'], {
      env: { ...process.env, SANDBOX_PORT: String(sandboxPort), SANDBOX_CUSTOMERS: String(customers), LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    children.push(sandbox);
    for (let i = 0; ; i++) {
      try {
        await fetch(`${sandboxUrl}/sandbox/requests`);
        break;
      } catch {
        if (i > 300) throw new Error('the sandbox did not start');
        await sleep(100);
      }
    }
    const fineractUrl = `${sandboxUrl}/fineract-provider/api/v1`;

    // The customers' PINs, where Kiunga looks for them (same Redis, prefix and pepper).
    const store = createRedisStore(REDIS_URL);
    const pins = createPinService({ store, pepper: BENCH_PEPPER, keys: createKeys(prefix) });
    for (let i = 0; i < customers; i++) await pins.setPin(SYNTHETIC_FIRST_ID + i, SYNTHETIC_PIN);
    await store.close();

    const servers: Server[] = [];
    if (only !== 'kiunga') {
      const minimal = await startServer(
        'minimal',
        { PORT: String(await freePort()), REDIS_URL, REDIS_PREFIX: `${prefix}-minimal`, FINERACT_URL: fineractUrl },
        [],
      );
      children.push(minimal.proc);
      servers.push(minimal);
    }
    if (only !== 'minimal') {
      const kiunga = await startServer(
        'kiunga',
        kiungaBenchEnv({ redisUrl: REDIS_URL, prefix, fineractUrl, logLevel: process.env.KIUNGA_LOG_LEVEL ?? 'warn' }),
        [],
      );
      children.push(kiunga.proc);
      servers.push(kiunga);
    }

    const pool = new Map(servers.map((s) => [s.role, new Pool(s.url, { connections: 1 })]));
    let errors = 0;
    const script: [string, RegExp][] = [
      ['', /^CON /],
      [SYNTHETIC_PIN, /^CON /],
      [`${SYNTHETIC_PIN}*1`, /^END [\s\S]*KES [0-9,]+\.[0-9]{2}/],
    ];
    /** Sends hop `step` (0 dial, 1 PIN, 2 balance) of session `sessionId`; false on a wrong reply. */
    const hop = async (server: Server, n: number, sessionId: string, step: number) => {
      const [text, expect] = script[step]!;
      const { statusCode, body } = await pool.get(server.role)!.request({
        method: 'POST',
        path: '/channels/africastalking/ussd',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          sessionId,
          serviceCode: '*384*1#',
          phoneNumber: syntheticMsisdn(n % customers),
          networkCode: '63902',
          text,
        }).toString(),
      });
      const reply = await body.text();
      if (statusCode === 200 && expect.test(reply)) return true;
      if (errors++ < 3) process.stderr.write(`${server.role}: unexpected reply ${statusCode} ${JSON.stringify(reply.slice(0, 80))}\n`);
      return false;
    };
    const sessionIdOf = (n: number, label: string) => `hop_${label}_${n}_${randomBytes(3).toString('hex')}`;
    const session = async (server: Server, n: number, label: string) => {
      const sessionId = sessionIdOf(n, label);
      for (let step = 0; step < script.length; step++) if (!(await hop(server, n, sessionId, step))) return;
    };

    process.stdout.write(`warming up (${customers} customers, then ${sessions} sessions per server)...\n`);
    for (const server of servers) {
      for (let n = 0; n < customers; n++) await session(server, n, 'warm');
      for (let n = 0; n < sessions; n++) await session(server, n, 'jit');
    }

    const idle: Record<string, number> = {};
    for (const server of servers) {
      const a = await server.cpu();
      await sleep(2000);
      const b = await server.cpu();
      idle[server.role] = (b.cpu.user + b.cpu.system - a.cpu.user - a.cpu.system) / (b.wall - a.wall); // µs per ms = ms per s
    }

    const kiungaServer = servers.find((s) => s.role === 'kiunga');
    if (profile && kiungaServer) await kiungaServer.profile('start');
    const results: Record<string, { raw: number; net: number; promises: number; allocated: number }[]> = {};
    const perHop: Record<string, number[]> = {};
    const errorsBefore = errors;
    for (let run = 0; run < runs; run++) {
      const order = run % 2 === 0 ? servers : [...servers].reverse();
      for (const server of order) {
        if (byHop) {
          const ids = Array.from({ length: sessions }, (_, n) => sessionIdOf(n, `r${run}`));
          for (let step = 0; step < script.length; step++) {
            const a = await server.cpu();
            for (let n = 0; n < sessions; n++) await hop(server, n, ids[n]!, step);
            const b = await server.cpu();
            (perHop[`${server.role} ${HOP_NAMES[step]}`] ??= []).push((b.cpu.user + b.cpu.system - a.cpu.user - a.cpu.system) / sessions);
          }
          continue;
        }
        const a = await server.cpu();
        for (let n = 0; n < sessions; n++) await session(server, n, `r${run}`);
        const b = await server.cpu();
        const used = b.cpu.user + b.cpu.system - a.cpu.user - a.cpu.system;
        const hops = sessions * 3;
        (results[server.role] ??= []).push({
          raw: used / hops,
          net: (used - idle[server.role]! * (b.wall - a.wall)) / hops,
          promises: (b.promises - a.promises) / hops,
          allocated: b.allocated / hops,
        });
      }
    }

    if (profile && kiungaServer) await kiungaServer.profile('stop');
    const best = (role: Role) => {
      const rs = results[role];
      return rs
        ? {
            raw: Math.min(...rs.map((r) => r.raw)),
            net: Math.min(...rs.map((r) => r.net)),
            all: rs.map((r) => r.raw.toFixed(0)),
            allocated: Math.min(...rs.map((r) => r.allocated)),
          }
        : undefined;
    };
    if (byHop) {
      const lines = [
        '',
        `USSD balance by hop, returning customers, one session at a time: ${runs} rounds of ${sessions} sessions per server, each round every dial, then every PIN, then every balance`,
        '',
        '| hop | minimal, CPU per hop (best round) | kiunga | kiunga/minimal | kiunga, every round |',
        '|---|---|---|---|---|',
      ];
      for (const name of HOP_NAMES) {
        const m = perHop[`minimal ${name}`];
        const k = perHop[`kiunga ${name}`];
        const bestOf = (xs?: number[]) => (xs ? Math.min(...xs) : undefined);
        const [bm, bk] = [bestOf(m), bestOf(k)];
        lines.push(
          `| ${name} | ${bm?.toFixed(0) ?? 'n/a'} µs | ${bk?.toFixed(0) ?? 'n/a'} µs | ${bm && bk ? (bk / bm).toFixed(2) : 'n/a'} | ${k?.map((x) => x.toFixed(0)).join(', ') ?? ''} |`,
        );
      }
      if (errors > errorsBefore) lines.push('', `errors in the rounds: ${errors - errorsBefore}`);
      process.stdout.write(`${lines.join('\n')}\n`);
      for (const p of pool.values()) await p.close();
      return;
    }
    const k = best('kiunga');
    const m = best('minimal');
    const lines = [
      '',
      `USSD balance, returning customers, one session at a time: ${runs} rounds of ${sessions} sessions (${sessions * 3} hops) per server`,
      '',
      '| server | CPU per hop (best round) | net of idle | every round | idle CPU | heap allocated per hop |',
      '|---|---|---|---|---|---|',
    ];
    for (const [name, s] of [
      ['minimal', m],
      ['kiunga', k],
    ] as const) {
      if (s)
        lines.push(
          `| ${name} | ${s.raw.toFixed(0)} µs | ${s.net.toFixed(0)} µs | ${s.all.join(', ')} µs | ${idle[name]!.toFixed(1)} ms/s | ${(s.allocated / 1024).toFixed(1)} KB |`,
        );
    }
    if (countPromises) {
      for (const role of ['minimal', 'kiunga'] as const)
        if (results[role])
          lines.push(
            '',
            `${role}: ${Math.min(...results[role].map((r) => r.promises)).toFixed(1)} promises created per hop (CPU figures of this run include the counting hook)`,
          );
    }
    if (k && m) lines.push('', `minimal/kiunga CPU per hop: ${(m.raw / k.raw).toFixed(2)} (net of idle ${(m.net / k.net).toFixed(2)})`);
    if (errors > errorsBefore) lines.push('', `errors in the rounds: ${errors - errorsBefore} (those sessions stopped at the wrong reply)`);
    process.stdout.write(`${lines.join('\n')}\n`);
    for (const p of pool.values()) await p.close();
  } finally {
    for (const c of children) {
      if (c.connected) c.disconnect();
      else c.kill('SIGINT');
    }
    await Promise.all(children.map((c) => (c.exitCode === null && c.signalCode === null ? once(c, 'exit') : undefined)));
  }
}

const role = option('child', '');
if (role === 'kiunga' || role === 'minimal') await child(role);
else await main();
