/**
 * The invariants every resilience scenario ends with, written once:
 *
 * 1. Money: each transfer a customer confirmed happened exactly once or not at all in Fineract's ledger, and
 *    nothing moved that no customer confirmed.
 * 2. Truth: a screen or SMS claims success only if the transfer exists, failure only if it does not ("being
 *    processed" is allowed while unknown), and a customer told "an SMS will confirm" gets that SMS.
 * 3. Hops: every hop answered 200 with CON/END within HOP_DEADLINE_MS by the server's own measure
 *    (Server-Timing) and within HOP_DEADLINE_MS + margin at the client; no 5xx, no hop without an answer
 *    except one whose process the scenario killed under it.
 * 4. Audit: the trail verifies (chain, head, signed checkpoints: `verifyAudit`, what `kiunga audit verify`
 *    runs; `verifyAuditCli` runs the command itself) and every transfer in the ledger has its
 *    `money.attempt` and its `money.outcome` done.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { createKeys } from '../../src/session/keys.js';
import { createRedisStore } from '../../src/session/redis-store.js';
import { auditStream } from '../../src/audit/stream.js';
import { verifyAudit } from '../../src/audit/verify.js';
import { parseRedisUrl } from '../../src/session/redis-url.js';
import { Queue } from 'bullmq';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { HOP_DEADLINE_MS, type Deployment, type LedgerTransfer } from './cluster.js';
import { accountOf, kes, msisdnOf, type Intent, type Traffic } from './traffic.js';
import { dumpHops } from './results.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Client-side allowance over HOP_DEADLINE_MS: reading the request and writing the answer on a loaded 2-core
 * machine running several server processes. The server's own measure (Server-Timing) is held to the deadline.
 */
export const HOP_MARGIN_MS = 1500;

type Claim = 'success' | 'failure' | 'neutral';

/** What a confirmation screen claims. "Try again" after a confirmation invites a second payment: a failure claim. */
export function screenClaim(reply: string | undefined): Claim {
  if (reply === undefined) return 'neutral';
  if (/^END Done: /.test(reply)) return 'success';
  if (/no money was moved|could not be completed|nothing was sent|try again/i.test(reply)) return 'failure';
  return 'neutral';
}

export interface Outcome {
  intent: Intent;
  transfer?: LedgerTransfer;
  /** What each answer to the confirming hop claims. */
  screens: Claim[];
  sms: Claim[];
}

export interface InvariantReport {
  intents: number;
  confirmed: number;
  done: number;
  notDone: number;
  hops: number;
  hopsKilled: number;
  maxHopMs: number;
  maxServerMs: number;
  auditEntries: number;
  violations: string[];
}

const isKiunga = (t: LedgerTransfer) => t.description.startsWith('Kiunga ');
const matches = (i: Intent, t: LedgerTransfer) => t.fromAccountId === accountOf(i.from) && t.amountCents === i.amountCents && !t.reversed;

function smsClaims(traffic: Traffic, i: Intent): Claim[] {
  const amount = kes(i.amountCents);
  const claims: Claim[] = [];
  for (const m of traffic.sms.values()) {
    if (!m.text.includes(amount)) continue;
    if (m.to === msisdnOf(i.from)) {
      if (m.text.startsWith('You sent ')) claims.push('success');
      else if (/could not be completed|No money was moved/.test(m.text)) claims.push('failure');
      else claims.push('neutral');
    } else if (m.to === msisdnOf(i.to) && m.text.startsWith('You received ')) claims.push('success');
  }
  return claims;
}

/** Whether the customer knows the end of intent `i`: a final screen, or the SMS the screen promised. */
function settled(i: Intent, transfer: LedgerTransfer | undefined, screens: Claim[], sms: Claim[]): boolean {
  if (!i.confirmed) return true;
  if (transfer) return sms.includes('success') || screens.includes('failure');
  return screens.includes('failure') || sms.includes('failure');
}

/**
 * Waits (up to `settleMs`) until every confirmed intent is settled as the customer sees it, then checks every
 * invariant and answers the report; `violations` lists each broken promise in words.
 */
export async function checkInvariants(
  d: Deployment,
  traffic: Traffic,
  options: { settleMs?: number; since?: { intents: number; hops: number } } = {},
): Promise<InvariantReport> {
  const violations: string[] = [];
  let ledger: LedgerTransfer[] = [];
  let outcomes: Outcome[] = [];
  const until = Date.now() + (options.settleMs ?? 30_000);
  // Kiunga's job queue (bullmq, in the deployment's Redis): queued resolutions and SMS may still move or tell.
  const connection = queueConnection(d.redisUrl);
  const queue = new Queue('jobs', { connection, prefix: `{${d.prefix}:bull}` });
  let pendingJobs = 0;
  try {
    for (;;) {
      const counts = await queue.getJobCounts('wait', 'delayed', 'active', 'prioritized', 'paused').catch(() => ({ unknown: 1 }));
      pendingJobs = Object.values(counts).reduce((a, b) => a + b, 0);
      await traffic.collectSms();
      ledger = (await d.sandbox.ledger()).filter(isKiunga);
      outcomes = traffic.intents.map((intent) => {
        const found = ledger.filter((t) => matches(intent, t));
        return { intent, transfer: found[0], screens: intent.replies.map(screenClaim), sms: smsClaims(traffic, intent) };
      });
      const told = outcomes.every((o) => settled(o.intent, o.transfer, o.screens, o.sms));
      if ((told && pendingJobs === 0) || Date.now() > until) break;
      await sleep(500);
    }
  } finally {
    await queue.close();
    connection.disconnect();
  }
  if (pendingJobs > 0) violations.push(`${pendingJobs} job(s) still queued after ${options.settleMs ?? 30_000} ms`);

  // 1. Money exactly once or not at all, and only what a customer confirmed.
  for (const t of ledger) {
    const owners = traffic.intents.filter((i) => matches(i, t));
    if (owners.length === 0) violations.push(`transfer ${t.id} (${t.description}, ${kes(t.amountCents)}) matches no confirmed intent`);
  }
  for (const o of outcomes) {
    const i = o.intent;
    const label = `${kes(i.amountCents)} from customer ${i.from} (session ${i.sessionId})`;
    const count = ledger.filter((t) => matches(i, t)).length;
    if (count > 1) violations.push(`${label}: moved ${count} times`);
    if (!i.confirmed && count > 0) violations.push(`${label}: moved without a confirmation`);
    // 2. No claim that did not happen; a promised SMS came.
    for (const [n, reply] of i.replies.entries()) {
      if (o.screens[n] === 'success' && !o.transfer) violations.push(`${label}: screen says done, no transfer: ${reply}`);
      if (o.screens[n] === 'failure' && o.transfer)
        violations.push(`${label}: screen says failed, transfer ${o.transfer.id} exists: ${reply}`);
    }
    if (o.sms.includes('success') && !o.transfer) violations.push(`${label}: an SMS says sent or received, no transfer`);
    if (o.sms.includes('failure') && o.transfer) violations.push(`${label}: an SMS says failed, transfer ${o.transfer.id} exists`);
    if (!settled(i, o.transfer, o.screens, o.sms))
      violations.push(
        `${label}: outcome never told (${o.transfer ? 'done' : 'not done'}; screens: ${i.replies.join(' | ') || 'no answer'}; SMS: ${o.sms.join(',') || 'none'})`,
      );
  }

  // 3. Hops.
  let maxHopMs = 0;
  let maxServerMs = 0;
  for (const [n, h] of traffic.hops.entries()) {
    const where = `hop ${JSON.stringify(h.text.replace(/\d{4}/g, '####'))} of ${h.sessionId} on ${h.proc}`;
    if (h.diedUnder) continue;
    if (n >= (options.since?.hops ?? 0)) {
      maxHopMs = Math.max(maxHopMs, h.ms);
      maxServerMs = Math.max(maxServerMs, h.serverMs ?? 0);
    }
    if (h.error) violations.push(`${where}: no answer (${h.error})`);
    else if (h.status !== 200) violations.push(`${where}: HTTP ${h.status}: ${h.body?.slice(0, 80)}`);
    else if (!/^(CON|END) /.test(h.body ?? '')) violations.push(`${where}: not a USSD answer: ${h.body?.slice(0, 80)}`);
    if (h.ms > HOP_DEADLINE_MS + HOP_MARGIN_MS) violations.push(`${where}: answered after ${Math.round(h.ms)} ms`);
    if (h.status !== undefined && h.serverMs === undefined) violations.push(`${where}: no Server-Timing`);
    if ((h.serverMs ?? 0) > HOP_DEADLINE_MS) violations.push(`${where}: ${h.serverMs} ms inside the server, past HOP_DEADLINE_MS`);
  }

  // 4. Audit: intact (what `kiunga audit verify` runs; each file also runs the command itself once), and
  // complete for the money that moved.
  const audit = await verifyInProcess(d);
  if (!audit.ok) violations.push(`audit verify: ${JSON.stringify(audit.problem)}`);
  const entries = await auditEntries(d);
  for (const t of ledger) {
    const ref = t.description.split(' ').at(-1);
    const of = entries.filter((e) => e.data?.ref === ref);
    if (!of.some((e) => e.type === 'money.attempt')) violations.push(`transfer ${t.id} (${ref}): no money.attempt audit entry`);
    if (!of.some((e) => e.type === 'money.outcome' && e.data?.status === 'done'))
      violations.push(`transfer ${t.id} (${ref}): no money.outcome done audit entry`);
  }

  // Every check covers the whole file (the ledger is cumulative); the figures cover this scenario.
  const since = options.since ?? { intents: 0, hops: 0 };
  const mine = outcomes.slice(since.intents);
  const confirmed = mine.filter((o) => o.intent.confirmed);
  const hops = traffic.hops.slice(since.hops);
  if (violations.length > 0) dumpHops(violations, hops, d);
  return {
    intents: mine.length,
    confirmed: confirmed.length,
    done: confirmed.filter((o) => o.transfer).length,
    notDone: confirmed.filter((o) => !o.transfer).length,
    hops: hops.length,
    hopsKilled: hops.filter((h) => h.diedUnder).length,
    maxHopMs: Math.round(maxHopMs),
    maxServerMs: Math.round(maxServerMs),
    auditEntries: entries.length,
    violations,
  };
}

/** `kiunga audit verify --json` as an operator runs it, with the deployment's settings (a process of its own). */
export async function verifyAuditCli(d: Deployment): Promise<{ ok: boolean; output: string }> {
  const env = {
    ...process.env,
    REDIS_URL: d.redisUrl,
    REDIS_PREFIX: d.prefix,
    AUDIT_CHECKPOINT_DIR: d.audit.checkpointDir,
    AUDIT_VERIFY_KEY: d.audit.verifyKey,
    LOG_LEVEL: 'warn',
  };
  try {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'src/main.ts', 'audit', 'verify', '--json'], {
      cwd: ROOT,
      env,
      timeout: 60_000,
    });
    return { ok: (JSON.parse(stdout) as { ok: boolean }).ok, output: stdout.trim() };
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    return { ok: false, output: `${e.stdout ?? ''}${e.stderr ?? ''}`.trim() || e.message };
  }
}

/** A connection for bullmq's Queue on any URL form Kiunga accepts (ioredis itself reads only redis://). */
function queueConnection(url: string): Redis | Cluster {
  const target = parseRedisUrl(url);
  if (target.mode === 'sentinel') return new Redis(sentinelOptions(url));
  if (target.mode === 'cluster') return new Cluster(target.nodes, { redisOptions: { maxRetriesPerRequest: null } });
  return new Redis(url, { maxRetriesPerRequest: null });
}

/** ioredis options for a redis-sentinel:// URL (the forms Kiunga accepts, src/session/redis-url.ts). */
function sentinelOptions(url: string): RedisOptions {
  const target = parseRedisUrl(url);
  if (target.mode !== 'sentinel') throw new TypeError('not a Sentinel URL');
  return { sentinels: target.sentinels, name: target.name, db: target.db, maxRetriesPerRequest: null };
}

/** `verifyAudit`, as `kiunga audit verify` calls it, with the deployment's checkpoints and key. */
async function verifyInProcess(d: Deployment) {
  const store = createRedisStore(d.redisUrl);
  try {
    return await verifyAudit({ store, keys: createKeys(d.prefix), checkpointDir: d.audit.checkpointDir, publicKey: d.audit.verifyKey });
  } finally {
    await store.close();
  }
}

export interface AuditedEvent {
  type: string;
  data?: Record<string, unknown>;
}

/** Every entry of the deployment's audit trail, oldest first. */
export async function auditEntries(d: Deployment): Promise<AuditedEvent[]> {
  const store = createRedisStore(d.redisUrl);
  try {
    const stream = auditStream(store, createKeys(d.prefix));
    const out: AuditedEvent[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await stream.page(after, 1000);
      if (page.length === 0) return out;
      for (const e of page) out.push(JSON.parse(e.entry) as AuditedEvent);
      after = page.at(-1)!.id;
    }
  } finally {
    await store.close();
  }
}
