/**
 * The benchmark's load generator, run by bench/run.ts as a process of its own (node:child_process fork) so
 * that its CPU is never the servers'. It takes orders over the IPC channel and answers each with one message.
 *
 * Virtual customers run sessions back to back, `concurrency` at a time; worker `w` serves customers w,
 * w + concurrency, ... so no customer is in two sessions at once. Every reply is checked against what the
 * journey must show (the balance reply must hold the customer's balance as Fineract holds it); a wrong reply,
 * a polite failure or a non-200 answer is an error and ends that session. Journeys:
 * - `ussd-balance`: dial, PIN, 1 (balance);
 * - `ussd-transfer`: dial, PIN, 3, recipient, 10, PIN (KES 10.00 to the next customer);
 * - `sms-balance`: `BAL 4321` to the AT SMS route (answered `OK`); the replies are read from the server's
 *   sandbox outbox afterwards (`verify`) and must hold the balance;
 * - `voice-balance`: a missed call to the AT voice route (`<Reject/>`), the call-back Kiunga places (read from
 *   `GET /sandbox/calls`, polled every 50 ms: not a hop), answered, PIN, 1 (the balance spoken), then AT's
 *   final request. Five hops.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';

export type Journey = 'ussd-balance' | 'ussd-transfer' | 'sms-balance' | 'voice-balance';

export type LoadOrder =
  | {
      type: 'run';
      label: string;
      targets: string[];
      journey: Journey;
      seconds: number;
      concurrency: number;
      customers: number;
      /** One session per customer, then stop (a warm-up that leaves every customer's lookups cached). */
      once?: boolean;
    }
  | { type: 'balances'; sandboxUrl: string; customers: number }
  | { type: 'verify'; targets: string[] }
  | { type: 'open'; target: string; count: number; tag: string }
  | { type: 'finish'; target: string; count: number; tag: string };

export interface RunResult {
  hops: number;
  sessions: number;
  errors: number;
  /** Requests that are no hop: the voice journey's polls of the sandbox dialer. */
  polls: number;
  latencies: number[];
  seconds: number;
  samples: string[];
  /** Load generator CPU over the round (its own process.cpuUsage), seconds. */
  loadCpu: number;
}

export interface VerifyResult {
  checked: number;
  errors: number;
  samples: string[];
}

const PIN = '4321';
const msisdnOf = (i: number) => `+254720${String(i).padStart(6, '0')}`;
const nationalOf = (i: number) => `0720${String(i).padStart(6, '0')}`;
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

const pools = new Map<string, Pool>();
const poolOf = (origin: string) => {
  let pool = pools.get(origin);
  if (!pool) pools.set(origin, (pool = new Pool(origin, { connections: 256, pipelining: 1 })));
  return pool;
};

/** The balance text each customer's replies must hold, e.g. `000010001: KES 100,000.00`. */
let expected: string[] = [];
const money = new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });

async function readBalances(sandboxUrl: string, customers: number): Promise<void> {
  const pool = poolOf(sandboxUrl);
  const headers = {
    authorization: `Basic ${Buffer.from('mifos:password').toString('base64')}`,
    'fineract-platform-tenantid': 'default',
    accept: 'application/json',
  };
  const next: string[] = new Array<string>(customers);
  const read = async (i: number) => {
    const { body } = await pool.request({ method: 'GET', path: `/fineract-provider/api/v1/savingsaccounts/${10_000 + i}`, headers });
    const account = (await body.json()) as { accountNo: string; summary: { availableBalance: number } };
    next[i] = `${account.accountNo}: KES ${money.format(account.summary.availableBalance)}`;
  };
  for (let i = 0; i < customers; i += 32) await Promise.all(Array.from({ length: Math.min(32, customers - i) }, (_, k) => read(i + k)));
  expected = next;
}

interface Reply {
  status: number;
  body: string;
}

async function post(origin: string, path: string, form: Record<string, string>): Promise<Reply> {
  const { statusCode, body } = await poolOf(origin).request({
    method: 'POST',
    path,
    headers: FORM,
    body: new URLSearchParams(form).toString(),
  });
  return { status: statusCode, body: await body.text() };
}

async function get(origin: string, path: string): Promise<Reply> {
  const { statusCode, body } = await poolOf(origin).request({ method: 'GET', path });
  return { status: statusCode, body: await body.text() };
}

/** The counters of a round, shared by its workers. */
interface Round {
  hops: number;
  errors: number;
  polls: number;
  latencies: number[];
  samples: string[];
}

/** Sends one hop, times it and checks the answer: undefined (and an error counted) when the check fails. */
async function hop(round: Round, send: () => Promise<Reply>, check: (r: Reply) => boolean, what: string): Promise<Reply | undefined> {
  const started = performance.now();
  let reply: Reply;
  try {
    reply = await send();
  } catch (error) {
    reply = { status: 0, body: String((error as Error)?.message ?? error) };
  }
  round.latencies.push(performance.now() - started);
  round.hops++;
  if (reply.status === 200 && check(reply)) return reply;
  round.errors++;
  if (round.samples.length < 4) round.samples.push(`${what}: ${reply.status} ${JSON.stringify(reply.body.slice(0, 120))}`);
  return undefined;
}

const ussdForm = (sessionId: string, customer: number, text: string) => ({
  sessionId,
  serviceCode: '*384*1#',
  phoneNumber: msisdnOf(customer),
  networkCode: '63902',
  text,
});

const IS = {
  welcome: (r: Reply) => /^CON [\s\S]*Enter your PIN:$/.test(r.body),
  menu: (r: Reply) => /^CON Main menu\n1\. Balance\n/.test(r.body),
  balance: (customer: number) => (r: Reply) => r.body.startsWith('END Balance') && r.body.includes(expected[customer] ?? '(unknown)'),
  recipient: (r: Reply) => r.body === "CON Enter the recipient's phone number:",
  amount: (r: Reply) => /^CON Amount\b.*:$/.test(r.body),
  confirm: (r: Reply) => /^CON Pay KES 10\.00\b[\s\S]*Enter PIN to confirm:$/.test(r.body),
  done: (r: Reply) => r.body.startsWith('END Done: KES 10.00'),
};

/** Customers of the current round (the recipient of customer i's transfer is customer i + 1). */
let customersOfRound = 1;

/** SMS sent in the last `sms-balance` round, checked by `verify`. */
let sent: { ref: string; customer: number }[] = [];

/** One session of `journey`; true when every hop answered as it must. */
async function session(round: Round, origin: string, journey: Journey, customer: number, sessionId: string): Promise<boolean> {
  const ussd = (text: string, check: (r: Reply) => boolean, what: string) =>
    hop(round, () => post(origin, '/channels/africastalking/ussd', ussdForm(sessionId, customer, text)), check, `${journey} ${what}`);
  switch (journey) {
    case 'ussd-balance':
      return Boolean(
        (await ussd('', IS.welcome, 'dial')) &&
        (await ussd(PIN, IS.menu, 'PIN')) &&
        (await ussd(`${PIN}*1`, IS.balance(customer), 'balance')),
      );
    case 'ussd-transfer': {
      const base = `${PIN}*3*${nationalOf((customer + 1) % customersOfRound)}`;
      return Boolean(
        (await ussd('', IS.welcome, 'dial')) &&
        (await ussd(PIN, IS.menu, 'PIN')) &&
        (await ussd(`${PIN}*3`, IS.recipient, 'send money')) &&
        (await ussd(base, IS.amount, 'recipient')) &&
        (await ussd(`${base}*10`, IS.confirm, 'amount')) &&
        (await ussd(`${base}*10*${PIN}`, IS.done, 'confirm')),
      );
    }
    case 'sms-balance': {
      const id = sessionId.replace(/[^A-Za-z0-9_.:-]/g, '');
      const form = { from: msisdnOf(customer), to: '22384', text: `BAL ${PIN}`, id, date: new Date().toISOString(), networkCode: '63902' };
      const ok = await hop(
        round,
        () => post(origin, '/channels/africastalking/sms', form),
        (r) => r.body === 'OK',
        'sms BAL',
      );
      if (ok) sent.push({ ref: `at:${id}`, customer });
      return Boolean(ok);
    }
    case 'voice-balance':
      return voiceSession(round, origin, customer, sessionId);
  }
}

async function voiceSession(round: Round, origin: string, customer: number, sessionId: string): Promise<boolean> {
  const msisdn = msisdnOf(customer);
  const route = '/channels/africastalking/voice';
  const calls = async () => {
    round.polls++;
    const reply = await get(origin, `/sandbox/calls?to=${encodeURIComponent(msisdn)}`);
    return (JSON.parse(reply.body) as { id: string }[]).at(-1)?.id;
  };
  const before = await calls();
  const missed = {
    sessionId: `ATVId_in_${sessionId}`,
    direction: 'Inbound',
    isActive: '1',
    callerNumber: msisdn,
    destinationNumber: '+254711082000',
  };
  if (
    !(await hop(
      round,
      () => post(origin, route, missed),
      (r) => r.body.includes('<Reject/>'),
      'voice missed call',
    ))
  )
    return false;
  let callId: string | undefined;
  for (let i = 0; i < 100 && (callId === undefined || callId === before); i++) {
    await sleep(50);
    callId = await calls();
  }
  if (callId === undefined || callId === before) {
    round.errors++;
    if (round.samples.length < 4) round.samples.push('voice: no call-back placed within 5 s');
    return false;
  }
  const call = { sessionId: callId, direction: 'Outbound', isActive: '1', callerNumber: msisdn, destinationNumber: '+254711082000' };
  let path = route;
  /** Follows the GetDigits callbackUrl, as AT does. */
  const follow = (r: Reply) => {
    const url = /callbackUrl="([^"]+)"/.exec(r.body)?.[1];
    if (url) {
      const next = new URL(url.replace(/&amp;/g, '&'));
      path = `${next.pathname}${next.search}`;
    }
    return true;
  };
  const answered = await hop(
    round,
    () => post(origin, path, call),
    (r) => r.body.includes('Enter your PIN') && follow(r),
    'voice answer',
  );
  const menu =
    answered &&
    (await hop(
      round,
      () => post(origin, path, { ...call, dtmfDigits: PIN }),
      (r) => r.body.includes('Main menu') && follow(r),
      'voice PIN',
    ));
  const balance =
    menu &&
    (await hop(
      round,
      () => post(origin, path, { ...call, dtmfDigits: '1' }),
      (r) => r.body.includes('<Say') && r.body.includes(`Balance Akiba Savings ${expected[customer] ?? '(unknown)'}`),
      'voice balance',
    ));
  // AT's final request ends the call whatever happened, so the number may ask for the next call-back.
  const end = { sessionId: callId, direction: 'Outbound', isActive: '0', hangupCause: 'NORMAL_CLEARING', durationInSeconds: '30' };
  const ended = await hop(
    round,
    () => post(origin, route, end),
    () => true,
    'voice end',
  );
  return Boolean(balance && ended);
}

async function run(order: Extract<LoadOrder, { type: 'run' }>): Promise<RunResult> {
  const round: Round = { hops: 0, errors: 0, polls: 0, latencies: [], samples: [] };
  customersOfRound = order.customers;
  if (order.journey === 'sms-balance') sent = [];
  let sessions = 0;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const stopAt = started + order.seconds * 1000;
  const tag = randomBytes(3).toString('hex');
  const worker = async (w: number) => {
    const origin = order.targets[w % order.targets.length]!;
    for (let n = 0; order.once ? w + n * order.concurrency < order.customers : performance.now() < stopAt; n++) {
      const customer = (w + n * order.concurrency) % order.customers;
      try {
        await session(round, origin, order.journey, customer, `b${order.label}${tag}w${w}n${n}`);
      } catch (error) {
        // Anything unexpected (an unreadable answer to a poll) is an error of that session, not the end of the round.
        round.errors++;
        if (round.samples.length < 4) round.samples.push(`${order.journey}: ${String((error as Error)?.message ?? error)}`);
      }
      sessions++;
    }
  };
  await Promise.all(Array.from({ length: order.concurrency }, (_, w) => worker(w)));
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  return { ...round, sessions, seconds, loadCpu: (cpu.user + cpu.system) / 1e6 };
}

/** Reads the replies of the last SMS round from the servers' sandbox outboxes: each must hold the balance. */
async function verify(targets: string[]): Promise<VerifyResult> {
  const texts = new Map<string, string>();
  for (const origin of targets) {
    const reply = await get(origin, '/sandbox/outbox');
    for (const m of JSON.parse(reply.body) as { ref?: string; text: string }[]) if (m.ref) texts.set(m.ref, m.text);
  }
  let errors = 0;
  const samples: string[] = [];
  for (const { ref, customer } of sent) {
    const text = texts.get(ref);
    if (text?.startsWith('Balance') && text.includes(expected[customer] ?? '(unknown)')) continue;
    errors++;
    if (samples.length < 4) samples.push(`sms reply ${ref}: ${JSON.stringify(text?.slice(0, 120) ?? '(none in the outbox)')}`);
  }
  return { checked: sent.length, errors, samples };
}

/** Takes `count` sessions (customers 0..count-1) through dial and PIN and leaves them open at the menu. */
async function open(origin: string, count: number, tag: string, finish: boolean): Promise<{ errors: number; samples: string[] }> {
  const round: Round = { hops: 0, errors: 0, polls: 0, latencies: [], samples: [] };
  const one = async (i: number) => {
    const ussd = (text: string, check: (r: Reply) => boolean) =>
      hop(round, () => post(origin, '/channels/africastalking/ussd', ussdForm(`mem${tag}n${i}`, i, text)), check, `memory ${text}`);
    if (finish) await ussd(`${PIN}*1`, IS.balance(i));
    else if (await ussd('', IS.welcome)) await ussd(PIN, IS.menu);
  };
  for (let i = 0; i < count; i += 16) await Promise.all(Array.from({ length: Math.min(16, count - i) }, (_, k) => one(i + k)));
  return { errors: round.errors, samples: round.samples };
}

process.on('message', (message: { id: number; order: LoadOrder }) => {
  const { id, order } = message;
  const answer = async () => {
    switch (order.type) {
      case 'run':
        return run(order);
      case 'balances':
        return readBalances(order.sandboxUrl, order.customers);
      case 'verify':
        return verify(order.targets);
      case 'open':
        return open(order.target, order.count, order.tag, false);
      case 'finish':
        return open(order.target, order.count, order.tag, true);
    }
  };
  answer().then(
    (result) => process.send!({ id, result }),
    (error: unknown) => process.send!({ id, error: String((error as Error)?.stack ?? error) }),
  );
});
process.on('disconnect', () => process.exit(0));
