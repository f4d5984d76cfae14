/**
 * The real processes of a resilience scenario: the Fineract sandbox (`kiunga sandbox`) and Kiunga processes
 * (`kiunga serve`) sharing one Redis, each a child process on a loopback port that a scenario may SIGKILL,
 * restart, or start with a shifted clock. Their log lines are kept for the secret scan.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import { Cluster, Redis } from 'ioredis';
import { generateAuditKeys } from '../../src/audit/checkpoints.js';
import { createKeys } from '../../src/session/keys.js';
import { createRedisStore } from '../../src/session/redis-store.js';
import { createPinService } from '../../src/security/pin-service.js';
import { SYNTHETIC_FIRST_ID, SYNTHETIC_PIN } from '../../src/sandbox/synthetic.js';
import { redisEvidence, registerEvidence, registerSecret, type Evidence } from '../helpers/secret-sentinel.js';
import { freePort } from '../session/helpers/redis-server.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Preload that shifts one process's wall clock by the milliseconds written in a file (clock-offset.mjs). */
const CLOCK_OFFSET = fileURLToPath(new URL('./clock-offset.mjs', import.meta.url));

export const HOP_DEADLINE_MS = 3000;
export const FINERACT_TIMEOUT_MS = 1500;
/** Synthetic customers in the sandbox: client 10000 + i, number +254720 + i, PIN SYNTHETIC_PIN. */
export const CUSTOMERS = 200;

const started = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of started) child.kill('SIGKILL');
});

/** One child process: its URL, its log lines, and the controls a scenario uses. */
export class Child {
  child: ChildProcess | undefined;
  /** Log lines (stdout and stderr) of every run of this process. */
  readonly lines: string[] = [];
  /** Incremented at each start: an SMS outbox entry is named by generation and id. */
  generation = 0;
  /** Node flags before `--import tsx` (e.g. the clock preload). */
  nodeFlags: string[] = [];
  /** Kills sent so far: a hop that fails while this changes, or while the process is down, died with it. */
  kills = 0;

  constructor(
    readonly name: string,
    readonly port: number,
    private readonly args: string[],
    private env: Record<string, string>,
    private readonly probe: string,
  ) {
    registerEvidence(() => this.lines.map((text, i) => ({ where: `${this.name} log line ${i + 1}`, text })));
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get alive(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null && !this.#stopping;
  }

  /** Between a kill and the next start (the exit event may come after the sockets closed). */
  #stopping = false;
  #listening = false;

  /** Alive and answering: what a load balancer's health check would send traffic to. */
  get ready(): boolean {
    return this.alive && this.#listening;
  }

  setEnv(extra: Record<string, string>): void {
    this.env = { ...this.env, ...extra };
  }

  async start(): Promise<void> {
    const child = spawn(process.execPath, [...this.nodeFlags, '--import', 'tsx', 'src/main.ts', ...this.args], {
      cwd: ROOT,
      env: { ...process.env, ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    started.add(child);
    child.once('exit', () => started.delete(child));
    this.child = child;
    this.#stopping = false;
    this.#listening = false;
    this.generation++;
    let rest = '';
    const keep = (chunk: Buffer) => {
      const text = rest + chunk.toString('utf8');
      const parts = text.split('\n');
      rest = parts.pop() ?? '';
      this.lines.push(...parts.filter(Boolean));
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    for (let i = 0; i < 600; i++) {
      if (!this.alive) throw new Error(`${this.name} exited at start:\n${this.lines.slice(-20).join('\n')}`);
      try {
        if ((await fetch(this.probe)).ok) {
          this.#listening = true;
          return;
        }
      } catch {
        // not listening yet
      }
      await sleep(100);
    }
    throw new Error(`${this.name} did not start`);
  }

  /** Sends `signal` and waits until the process is gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child || !this.alive) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    this.kills++;
    this.#stopping = true;
    child.kill(signal);
    await exited;
  }
}

/** The Fineract sandbox process and what a scenario reads from it. */
export class SandboxProcess extends Child {
  get fineractUrl(): string {
    return `${this.url}/fineract-provider/api/v1`;
  }

  /** `POST /sandbox/control` (faults: latency, failMode, timeoutAfterCommit; `reset: true` for normal service). */
  async control(body: Record<string, unknown>): Promise<Record<string, unknown>> {
    const res = await fetch(`${this.url}/sandbox/control`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`sandbox control ${res.status}: ${await res.text()}`);
    return (await res.json()) as Record<string, unknown>;
  }

  async requests(): Promise<{ method: string; path: string; at: number; idempotencyKey?: string; committed?: boolean; status?: number }[]> {
    return (await (await fetch(`${this.url}/sandbox/requests`)).json()) as never;
  }

  /** Every account transfer Fineract holds (`GET /accounttransfers`, all pages). */
  async ledger(): Promise<LedgerTransfer[]> {
    const out: LedgerTransfer[] = [];
    for (let offset = 0; ; offset += 1000) {
      const res = await fetch(`${this.fineractUrl}/accounttransfers?offset=${offset}&limit=1000`, {
        headers: { authorization: `Basic ${Buffer.from('mifos:password').toString('base64')}`, 'fineract-platform-tenantid': 'default' },
      });
      if (!res.ok) throw new Error(`ledger read ${res.status}`);
      const page = (await res.json()) as { totalFilteredRecords: number; pageItems: RawTransfer[] };
      for (const t of page.pageItems) {
        out.push({
          id: t.id,
          reversed: t.reversed,
          amountCents: Math.round(t.transferAmount * 100),
          description: t.transferDescription,
          fromAccountId: t.fromAccount.id,
          toAccountId: t.toAccount.id,
        });
      }
      if (offset + page.pageItems.length >= page.totalFilteredRecords || page.pageItems.length === 0) return out;
    }
  }
}

interface RawTransfer {
  id: number;
  reversed: boolean;
  transferAmount: number;
  transferDescription: string;
  fromAccount: { id: number };
  toAccount: { id: number };
}

export interface LedgerTransfer {
  id: number;
  reversed: boolean;
  amountCents: number;
  description: string;
  fromAccountId: number;
  toAccountId: number;
}

/** A Kiunga process. */
export class KiungaProcess extends Child {
  #clockFile: string | undefined;

  /**
   * From the next start, this process's wall clock follows `stepClock` (clock-offset.mjs): the test steps
   * the clock of the running process, as an NTP step would, without touching the others.
   */
  useSteppableClock(): void {
    this.#clockFile = join(mkdtempSync(join(tmpdir(), 'kiunga-chaos-clock-')), 'offset');
    writeFileSync(this.#clockFile, '0');
    this.setEnv({ KIUNGA_TEST_CLOCK_FILE: this.#clockFile });
    this.nodeFlags = ['--import', CLOCK_OFFSET];
  }

  /** The name its job worker stores on each job it takes (bullmq's `processedBy`, src/jobs/queue.ts). */
  get workerName(): string | undefined {
    return this.child?.pid === undefined ? undefined : `${hostname()}:${this.child.pid}`;
  }

  /** Sets the wall-clock offset (ms) and waits until the process has read it. */
  async stepClock(ms: number): Promise<void> {
    if (!this.#clockFile) throw new Error('useSteppableClock() first');
    writeFileSync(this.#clockFile, String(ms));
    await sleep(300);
  }
}

export interface Deployment {
  sandbox: SandboxProcess;
  kiunga: KiungaProcess[];
  redisUrl: string;
  prefix: string;
  audit: { checkpointDir: string; verifyKey: string };
  /** The environment every Kiunga process shares (for `kiunga audit verify`). */
  env: Record<string, string>;
  stop(): Promise<void>;
}

/** Waits until every live Kiunga process answers /readyz with 200 (Redis and Fineract reachable again). */
export async function waitReady(kiunga: KiungaProcess[], timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (const k of kiunga.filter((p) => p.alive)) {
    for (;;) {
      const answer = await fetch(`${k.url}/readyz`).then(
        async (r) => ({ ok: r.ok, text: await r.text() }),
        (error: unknown) => ({ ok: false, text: (error as Error).message }),
      );
      if (answer.ok) break;
      if (Date.now() > until)
        throw new Error(
          `${k.name} not ready after ${timeoutMs} ms: ${answer.text.slice(0, 300)}\nits last log lines:\n${k.lines.slice(-15).join('\n')}`,
        );
      await sleep(200);
    }
  }
}

/** Puts the synthetic customers' PINs where Kiunga reads them (same Redis, prefix and pepper). */
export async function seedPins(redisUrl: string, prefix: string, pepper: string): Promise<void> {
  const store = createRedisStore(redisUrl);
  try {
    const pins = createPinService({ store, pepper, keys: createKeys(prefix) });
    for (let i = 0; i < CUSTOMERS; i++) await pins.setPin(SYNTHETIC_FIRST_ID + i, SYNTHETIC_PIN);
  } finally {
    await store.close();
  }
}

/**
 * Starts the sandbox and `count` Kiunga processes on `redisUrl` (a fresh key prefix), with the PINs seeded.
 * `sandbox` reuses a running sandbox (its ledger carries on).
 */
export async function deploy(options: {
  redisUrl: string;
  count?: number;
  sandbox?: SandboxProcess;
  env?: Record<string, string>;
  /** The key prefix (default: a fresh random one); a Cluster scenario picks one whose slots it knows. */
  prefix?: string;
  /** Runs before the Kiunga processes start, the sandbox running (e.g. to give one a steppable clock, or a proxy). */
  prepare?: (kiunga: KiungaProcess[], sandbox: SandboxProcess) => void | Promise<void>;
}) {
  const prefix = options.prefix ?? `kiunga-chaos-${randomBytes(4).toString('hex')}`;
  const pepper = `chaos-pepper-${randomBytes(12).toString('hex')}`;
  registerSecret(pepper, 'the resilience suite’s PIN pepper');
  const keys = generateAuditKeys();
  registerSecret(keys.privateKey, 'the resilience suite’s audit signing key');
  const checkpointDir = mkdtempSync(join(tmpdir(), 'kiunga-chaos-audit-'));

  let sandbox = options.sandbox;
  if (!sandbox) {
    const port = await freePort();
    sandbox = new SandboxProcess(
      'sandbox',
      port,
      ['sandbox'],
      { SANDBOX_PORT: String(port), HOST: '127.0.0.1', SANDBOX_CUSTOMERS: String(CUSTOMERS), LOG_LEVEL: 'warn' },
      `http://127.0.0.1:${port}/sandbox/control`,
    );
    await sandbox.start();
  }
  await seedPins(options.redisUrl, prefix, pepper);

  const env: Record<string, string> = {
    HOST: '127.0.0.1',
    REDIS_URL: options.redisUrl,
    REDIS_PREFIX: prefix,
    FINERACT_URL: sandbox.fineractUrl,
    // The sandbox on loopback stands in for Fineract: its unsafe settings are expected (threat T27).
    KIUNGA_ALLOW_INSECURE: 'messaging,callback-key,fineract-password,sim-swap',
    FINERACT_SAVINGS_PRODUCTS: '1',
    FINERACT_LOAN_PRODUCTS: '1',
    PIN_PEPPER: pepper,
    HOP_DEADLINE_MS: String(HOP_DEADLINE_MS),
    FINERACT_TIMEOUT_MS: String(FINERACT_TIMEOUT_MS),
    // A few customers make many sessions: the abuse limits have their own tests.
    LIMIT_NUMBER_PER_MIN: '100000',
    AUDIT_SIGNING_KEY: keys.privateKey,
    AUDIT_CHECKPOINT_DIR: checkpointDir,
    AUDIT_CHECKPOINT_EVERY: '20',
    LOG_LEVEL: 'info',
    ...options.env,
  };
  const kiunga: KiungaProcess[] = [];
  for (let i = 0; i < (options.count ?? 3); i++) {
    const port = await freePort();
    kiunga.push(new KiungaProcess(`kiunga-${i + 1}`, port, ['serve'], { ...env, PORT: String(port) }, `http://127.0.0.1:${port}/healthz`));
  }
  const stored: Evidence[] = [];
  registerEvidence(() => stored);
  await options.prepare?.(kiunga, sandbox);
  await Promise.all(kiunga.map((k) => k.start()));
  const own = sandbox;
  return {
    sandbox: own,
    kiunga,
    redisUrl: options.redisUrl,
    prefix,
    audit: { checkpointDir, verifyKey: keys.publicKey },
    env,
    async stop() {
      await Promise.all(kiunga.map((k) => k.kill('SIGTERM')));
      if (!options.sandbox) await own.kill('SIGTERM');
      // What the processes left in Redis (audit entries, sessions), for the secret scan, while Redis is up.
      const store = createRedisStore(options.redisUrl);
      try {
        await store.ping(); // the store's client sends nothing before its first connection
        // SCAN walks one node: on a Cluster, each master's keys in turn.
        const nodes = store.client instanceof Cluster ? store.client.nodes('master') : [store.client];
        for (const node of nodes) stored.push(...(await redisEvidence(node, prefix)));
      } finally {
        await store.close();
      }
    },
  } satisfies Deployment;
}

/** GET /readyz of one process: its status, the body's fields, and how long it took to answer. */
export async function readyz(k: KiungaProcess): Promise<{ status: number; body: Record<string, unknown>; ms: number }> {
  const started = performance.now();
  const res = await fetch(`${k.url}/readyz`, { signal: AbortSignal.timeout(10_000) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, ms: performance.now() - started };
}

/** A job as a scenario reads it in Redis (bullmq's own fields). */
export interface JobView {
  id: string;
  name: string;
  data: Record<string, unknown>;
  /** The worker that took it last (`<hostname>:<pid>` of a Kiunga process). */
  processedBy?: string;
  /** Times bullmq found it stalled (its worker gone with its lock) and handed it to another worker. */
  stalledCounter: number;
  state: string;
}

/** Reads the deployment's job queue (bullmq, on a plain Redis URL) without running any job. */
export function jobInspector(d: Pick<Deployment, 'redisUrl' | 'prefix'>) {
  const connection = new Redis(d.redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue('jobs', { connection, prefix: `{${d.prefix}:bull}` });
  const view = async (id: string): Promise<JobView | undefined> => {
    const job = await queue.getJob(id);
    if (!job?.id) return undefined;
    const { name, data, processedBy, stalledCounter } = job;
    return { id: job.id, name, data: data as Record<string, unknown>, processedBy, stalledCounter, state: await job.getState() };
  };
  return {
    async job(id: string): Promise<JobView> {
      const found = await view(id);
      if (!found) throw new Error(`no job ${id}`);
      return found;
    },
    /** The first job named `name` whose data matches, once a worker runs it (polled every 25 ms). */
    async activeJob(name: string, match: (data: Record<string, unknown>) => boolean, timeoutMs: number): Promise<JobView> {
      const until = Date.now() + timeoutMs;
      while (Date.now() < until) {
        for (const job of await queue.getActive()) {
          if (job.id && job.name === name && match(job.data as Record<string, unknown>) && job.processedBy) return (await view(job.id))!;
        }
        await sleep(25);
      }
      throw new Error(`no ${name} job running after ${timeoutMs} ms`);
    },
    async close(): Promise<void> {
      await queue.close();
      connection.disconnect();
    },
  };
}
