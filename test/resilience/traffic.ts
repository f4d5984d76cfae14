/**
 * Customers driven through the Africa's Talking USSD route of several Kiunga processes, as behind a load
 * balancer: each hop of a session goes to the next live process in turn. A hop whose process died under it
 * (a connection error while a scenario killed that process) is sent again to another process, as the
 * aggregator retries. Every hop, every money intent and every SMS any process sent is kept for the
 * invariants (invariants.ts).
 */
import { randomBytes } from 'node:crypto';
import { Agent, request } from 'undici';
import { SYNTHETIC_FIRST_ID, SYNTHETIC_PIN, syntheticMsisdn } from '../../src/sandbox/synthetic.js';
import { CUSTOMERS, type KiungaProcess } from './cluster.js';

export interface HopRecord {
  proc: string;
  sessionId: string;
  msisdn: string;
  text: string;
  /** Client-side time from sending the request to the whole answer (ms). */
  ms: number;
  /** The server's own measure, arrival to answer (`Server-Timing: hop;dur=`), the deadline's measure. */
  serverMs?: number;
  status?: number;
  body?: string;
  /** A transport error (no answer at all). */
  error?: string;
  /** The process died during this hop (killed by the scenario): no answer is expected from it. */
  diedUnder?: boolean;
}

/** A transfer a customer asked for: `confirmed` once the confirming PIN was sent. */
export interface Intent {
  sessionId: string;
  from: number;
  to: number;
  amountCents: number;
  confirmed: boolean;
  /** Every answer to the confirming hop (it may be sent more than once, to several processes). */
  replies: string[];
}

/** Sends the confirming hop's text to `proc` (default: the next process in turn). */
export type ConfirmSender = (proc?: KiungaProcess) => Promise<HopRecord>;

export interface Sms {
  key: string;
  to: string;
  text: string;
}

/** Account and number of synthetic customer `i` (src/sandbox/synthetic.ts). */
export const accountOf = (i: number) => SYNTHETIC_FIRST_ID + i;
export const msisdnOf = (i: number) => syntheticMsisdn(i);
const nationalOf = (i: number) => `0720${String(i).padStart(6, '0')}`;
/** "KES 10.01" as screens and SMS write an amount. */
export const kes = (cents: number) => `KES ${Math.trunc(cents / 100)}.${String(cents % 100).padStart(2, '0')}`;

const PIN = SYNTHETIC_PIN;
let amountCounter = 0;
let customerCounter = 0;
let sessionCounter = 0;

/** A sender no earlier session of this file used (limits and locks of one scenario stay its own). */
export function nextCustomer(): number {
  const i = customerCounter++ % (CUSTOMERS / 2);
  return i;
}

/** A transfer amount no other intent of this file uses: the ledger maps each transfer to one intent. */
export function nextAmountCents(): number {
  amountCounter++;
  return 10_00 + amountCounter;
}

export const newSessionId = (tag = 's') => `ATUid_chaos_${tag}_${(sessionCounter++).toString(36)}_${randomBytes(3).toString('hex')}`;

/**
 * A meeting point for `n` customers on their confirmation screens: `action` (the fault) runs once when all
 * have arrived, or after `waitMs` for the ones that did (a customer turned away earlier never comes).
 */
export function barrier(n: number, action: () => Promise<unknown>, waitMs = 8000): () => Promise<void> {
  let arrived = 0;
  let release: () => void = () => undefined;
  const all = new Promise<void>((resolve) => (release = resolve));
  const timer = setTimeout(release, waitMs);
  const done = all.then(async () => {
    clearTimeout(timer);
    await action();
  });
  return async () => {
    if (++arrived >= n) release();
    await done;
  };
}

export class Traffic {
  readonly hops: HopRecord[] = [];
  readonly intents: Intent[] = [];
  readonly sms = new Map<string, Sms>();
  /** Processes the load balancer has taken out of rotation (their health check failing): `pick` skips them. */
  readonly outOfRotation = new Set<KiungaProcess>();
  #next = 0;
  readonly #agent = new Agent({ connections: 64, keepAliveTimeout: 1000 });

  constructor(readonly processes: () => KiungaProcess[]) {}

  /** Where the next scenario's intents and hops start (its report counts from here). */
  mark(): { intents: number; hops: number } {
    return { intents: this.intents.length, hops: this.hops.length };
  }

  /** The next live process in rotation, in turn. */
  pick(exclude?: KiungaProcess): KiungaProcess {
    const live = this.processes().filter((p) => p.ready && p !== exclude && !this.outOfRotation.has(p));
    const pool = live.length > 0 ? live : this.processes().filter((p) => p.ready);
    if (pool.length === 0) throw new Error('no live Kiunga process');
    return pool[this.#next++ % pool.length]!;
  }

  /** One hop on `proc` (default: the next in turn); a hop that died with its process is sent to another one. */
  async hop(sessionId: string, msisdn: string, text: string, proc: KiungaProcess = this.pick()): Promise<HopRecord> {
    for (let attempt = 0; ; attempt++) {
      const record = await this.once(proc, sessionId, msisdn, text);
      if (!record.diedUnder || attempt >= 3) return record;
      proc = this.pick(proc);
    }
  }

  private async once(proc: KiungaProcess, sessionId: string, msisdn: string, text: string): Promise<HopRecord> {
    const kills = proc.kills;
    const started = performance.now();
    const record: HopRecord = { proc: proc.name, sessionId, msisdn, text, ms: 0 };
    try {
      const res = await request(`${proc.url}/channels/africastalking/ussd`, {
        method: 'POST',
        dispatcher: this.#agent,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ sessionId, serviceCode: '*384*1#', phoneNumber: msisdn, networkCode: '63902', text }).toString(),
        // Far past the deadline: a hop that takes this long fails the deadline invariant anyway.
        headersTimeout: 30_000,
        bodyTimeout: 30_000,
      });
      record.status = res.statusCode;
      record.body = await res.body.text();
      const timing = /hop;dur=([\d.]+)/.exec(String(res.headers['server-timing'] ?? ''));
      if (timing) record.serverMs = Number(timing[1]);
    } catch (error) {
      record.error = (error as Error).message;
      // Killed under this hop: the scenario's own doing, recorded, not a broken promise of Kiunga's.
      record.diedUnder = !proc.ready || proc.kills !== kills;
    }
    record.ms = performance.now() - started;
    this.hops.push(record);
    return record;
  }

  /** A USSD session of customer `customer` (AT's cumulative text), on `sessionId` (default: a fresh one). */
  session(customer: number, sessionId = newSessionId()) {
    const msisdn = msisdnOf(customer);
    const inputs: string[] = [];
    return {
      sessionId,
      msisdn,
      /** The next hop: `undefined` dials, otherwise appends the input; `proc` pins the process. */
      send: async (input?: string, proc?: KiungaProcess) => {
        if (input !== undefined) inputs.push(input);
        return this.hop(sessionId, msisdn, inputs.join('*'), proc);
      },
      /** The current text again (an aggregator retry), on `proc` or the next process. */
      resend: async (proc?: KiungaProcess) => this.hop(sessionId, msisdn, inputs.join('*'), proc),
      get text() {
        return inputs.join('*');
      },
    };
  }

  /**
   * Customer `from` sends a unique amount to customer `to`: dial, PIN, 3, recipient, amount, then the
   * confirming PIN. `beforeConfirm` runs once the confirmation screen shows (a scenario injects its fault
   * there). A session that ends before the confirmation (a polite END) is dialled again, up to `redials`
   * times; once confirmed, the customer never confirms again.
   */
  async transfer(
    from: number,
    to: number,
    options: {
      beforeConfirm?: () => Promise<void>;
      /** How the confirming hop is sent (default: once, to the next process): duplicates, a chosen process. */
      confirm?: (send: ConfirmSender) => Promise<unknown>;
      redials?: number;
      amountCents?: number;
      tag?: string;
    } = {},
  ): Promise<Intent> {
    const amountCents = options.amountCents ?? nextAmountCents();
    const amount = kes(amountCents).slice(4);
    const intent: Intent = { sessionId: '', from, to, amountCents, confirmed: false, replies: [] };
    this.intents.push(intent);
    for (let dial = 0; dial <= (options.redials ?? 2); dial++) {
      const s = this.session(from, newSessionId(options.tag));
      intent.sessionId = s.sessionId;
      const steps: [string | undefined, RegExp][] = [
        [undefined, /^CON /],
        [PIN, /^CON /],
        ['3', /^CON /],
        [nationalOf(to), /^CON /],
        [amount, /^CON Pay /],
      ];
      let reached = true;
      for (const [input, expected] of steps) {
        const r = await s.send(input);
        if (!r.body || !expected.test(r.body)) {
          reached = false;
          break;
        }
      }
      if (!reached) continue;
      await options.beforeConfirm?.();
      intent.confirmed = true;
      const text = `${s.text}*${PIN}`;
      const send: ConfirmSender = async (proc) => {
        const r = await this.hop(s.sessionId, s.msisdn, text, proc);
        if (r.body !== undefined) intent.replies.push(r.body);
        return r;
      };
      await (options.confirm ? options.confirm(send) : send());
      return intent;
    }
    return intent;
  }

  /** A balance session of customer `i` (dial, PIN, 1); answers the last reply. */
  async balance(i: number): Promise<string | undefined> {
    const s = this.session(i);
    for (const input of [undefined, PIN, '1']) {
      const r = await s.send(input);
      if (!r.body?.startsWith('CON ')) return r.body;
    }
    return undefined;
  }

  /** Reads the SMS outbox of every live process (call before killing one: its outbox dies with it). */
  async collectSms(): Promise<void> {
    await Promise.all(
      this.processes()
        .filter((p) => p.ready)
        .map(async (p) => {
          const generation = p.generation;
          try {
            const list = (await (await fetch(`${p.url}/sandbox/outbox`)).json()) as { id: string; to: string; text: string }[];
            for (const m of list) {
              const key = `${p.name}#${generation}#${m.id}`;
              this.sms.set(key, { key, to: m.to, text: m.text });
            }
          } catch {
            // the process is going away
          }
        }),
    );
  }

  async close(): Promise<void> {
    await this.#agent.close();
  }
}
