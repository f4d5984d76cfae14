import twilio from 'twilio';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestServer, type TestServer } from '../helpers/server.js';

export const AMINA = '+254711000001';
export const BARAKA = '+254711000002';
export const CHANYA = '+254711000003';
export const DUMA = '+254711000004';
export const NOBODY = '+254711000009';

export const PUBLIC_URL = 'https://kiunga.example.org';
export const AUTH_TOKEN = 'twilio-test-auth-token-0123456789';
export const TWILIO_NUMBER = '+15005550006';
export const AT_KEY = 'at-callback-key-0123456789abcdef';

/** The voice test server: signed Twilio routes, a keyed AT route, quick call-backs. */
export function startVoiceServer(env: Record<string, string> = {}): Promise<TestServer> {
  return startTestServer({
    PUBLIC_URL,
    TWILIO_AUTH_TOKEN: AUTH_TOKEN,
    TWILIO_NUMBER,
    AT_CALLBACK_KEY: AT_KEY,
    CALLBACK_DELAY_MS: '50',
    CALLBACK_RETRY_DELAY_S: '0',
    ...env,
  });
}

// --- XML ----------------------------------------------------------------------------------------------

export interface XmlNode {
  name: string;
  attrs: Record<string, string>;
  children: XmlNode[];
  /** Text content (entities decoded), children's excluded. */
  text: string;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
const decode = (s: string) => {
  if (/&(?!(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/.test(s)) throw new Error(`malformed XML: bare & in ${JSON.stringify(s)}`);
  return s.replace(/&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/g, (_m, e: string) =>
    e.startsWith('#x')
      ? String.fromCodePoint(parseInt(e.slice(2), 16))
      : e.startsWith('#')
        ? String.fromCodePoint(Number(e.slice(1)))
        : ENTITIES[e]!,
  );
};

/** A strict parser for the small documents voice routes answer; throws on anything malformed. */
export function parseXml(source: string): XmlNode {
  let i = 0;
  const s = source.replace(/^<\?xml[^?]*\?>/, '');
  const fail = (why: string): never => {
    throw new Error(`malformed XML at ${i}: ${why}\n${source}`);
  };
  const element = (): XmlNode => {
    const open = /^<([A-Za-z][A-Za-z0-9]*)((?:\s+[A-Za-z][A-Za-z0-9]*="[^"<]*")*)\s*(\/?)>/.exec(s.slice(i));
    if (!open) return fail('expected an element');
    i += open[0].length;
    const attrs: Record<string, string> = {};
    for (const m of open[2]!.matchAll(/([A-Za-z][A-Za-z0-9]*)="([^"<]*)"/g)) {
      if (m[1]! in attrs) fail(`attribute ${m[1]} twice`);
      attrs[m[1]!] = decode(m[2]!);
    }
    const node: XmlNode = { name: open[1]!, attrs, children: [], text: '' };
    if (open[3] === '/') return node;
    for (;;) {
      const close = new RegExp(`^</${node.name}>`).exec(s.slice(i));
      if (close) {
        i += close[0].length;
        return node;
      }
      if (s[i] === '<') {
        if (s[i + 1] === '/') fail(`unexpected close tag, expected </${node.name}>`);
        node.children.push(element());
        continue;
      }
      const end = s.indexOf('<', i);
      if (end < 0) fail('unterminated element');
      node.text += decode(s.slice(i, end));
      i = end;
    }
  };
  const root = element();
  if (s.slice(i).trim() !== '') fail('content after the root element');
  return root;
}

/** Every node of a tree, depth first. */
export function allNodes(node: XmlNode): XmlNode[] {
  return [node, ...node.children.flatMap(allNodes)];
}

/** All spoken text of a reply or document (its Say elements), in order. */
export function spoken(of: XmlNode | { xml?: XmlNode; body: string }): string {
  const node = 'name' in of ? of : of.xml;
  if (!node) throw new Error(`not an XML reply: ${'body' in of ? of.body : ''}`);
  return allNodes(node)
    .filter((n) => n.name === 'Say')
    .map((n) => n.text)
    .join(' ');
}

// --- Twilio -------------------------------------------------------------------------------------------

export interface Reply {
  status: number;
  body: string;
  xml?: XmlNode;
}

/**
 * Posts to a Twilio route the way Twilio does: form-encoded, signed with the auth token over PUBLIC_URL + path
 * (query included). `signature: 'forged'` signs with another token, `'missing'` sends none.
 */
export async function twilioPost(
  server: TestServer,
  pathAndQuery: string,
  params: Record<string, string>,
  signature: 'valid' | 'forged' | 'missing' = 'valid',
): Promise<Reply> {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (signature !== 'missing') {
    const token = signature === 'valid' ? AUTH_TOKEN : 'not-the-auth-token';
    headers['x-twilio-signature'] = twilio.getExpectedTwilioSignature(token, `${PUBLIC_URL}${pathAndQuery}`, params);
  }
  const res = await fetch(`${server.url}${pathAndQuery}`, { method: 'POST', headers, body: new URLSearchParams(params).toString() });
  const body = await res.text();
  return { status: res.status, body, xml: res.status === 200 && body.startsWith('<') ? parseXml(body) : undefined };
}

/** The path + query of a TwiML Gather action (what Twilio posts next). */
export function actionOf(xml: XmlNode): string {
  const gather = allNodes(xml).find((n) => n.name === 'Gather');
  if (!gather) throw new Error('no Gather in the reply');
  const url = new URL(gather.attrs.action!);
  return `${url.pathname}${url.search}`;
}

let sid = 0;
export const newCallSid = () => `CA${Date.now().toString(16).padStart(16, '0')}${(sid++).toString(16).padStart(16, '0')}`;

/** A Twilio call-back call: answer, then keys pressed, following the Gather actions. */
export function twilioCall(server: TestServer, to: string, ref: string) {
  const callSid = newCallSid();
  const base = {
    CallSid: callSid,
    AccountSid: 'AC' + '0'.repeat(32),
    From: TWILIO_NUMBER,
    To: to,
    Direction: 'outbound-api',
    CallStatus: 'in-progress',
  };
  let next = `/channels/twilio/voice?ref=${ref}`;
  return {
    callSid,
    async answer(): Promise<Reply> {
      const reply = await twilioPost(server, next, base);
      if (reply.xml && allNodes(reply.xml).some((n) => n.name === 'Gather')) next = actionOf(reply.xml);
      return reply;
    },
    /** Presses keys ('' = silence: the gather timed out). */
    async press(digits: string): Promise<Reply> {
      const reply = await twilioPost(server, next, { ...base, Digits: digits, ...(digits ? { FinishedOnKey: '#' } : {}) });
      if (reply.xml && allNodes(reply.xml).some((n) => n.name === 'Gather')) next = actionOf(reply.xml);
      return reply;
    },
    /** Sends the same request again (a retry). */
    async repeat(digits: string, action: string): Promise<Reply> {
      return twilioPost(server, action, { ...base, Digits: digits, FinishedOnKey: '#' });
    },
    get next() {
      return next;
    },
    async status(callStatus: string): Promise<Reply> {
      return twilioPost(server, `/channels/twilio/voice/status?ref=${ref}`, { ...base, CallStatus: callStatus, CallDuration: '42' });
    },
  };
}

// --- Africa's Talking ---------------------------------------------------------------------------------

/** Posts to the AT voice route (with the callback key unless `key` is false). */
export async function atPost(server: Pick<TestServer, 'url'>, params: Record<string, string>, query = `key=${AT_KEY}`): Promise<Reply> {
  const res = await fetch(`${server.url}/channels/africastalking/voice${query ? `?${query}` : ''}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params).toString(),
  });
  const body = await res.text();
  return { status: res.status, body, xml: res.status === 200 && body.startsWith('<') ? parseXml(body) : undefined };
}

/** The path + query of the GetDigits callbackUrl. */
export function callbackOf(xml: XmlNode): string {
  const get = allNodes(xml).find((n) => n.name === 'GetDigits');
  if (!get) throw new Error('no GetDigits in the reply');
  const url = new URL(get.attrs.callbackUrl!);
  return url.search.slice(1);
}

/**
 * An AT call-back call identified by AT's `sessionId`. `server.url` is read at each request, so a scenario can
 * send each of the call's requests to another process, as a load balancer would.
 */
export function atCall(server: Pick<TestServer, 'url'>, customer: string, sessionId: string) {
  const base = { sessionId, direction: 'Outbound', isActive: '1', callerNumber: customer, destinationNumber: '+254711082000' };
  let query = `key=${AT_KEY}`;
  const follow = (reply: Reply) => {
    if (reply.xml && allNodes(reply.xml).some((n) => n.name === 'GetDigits')) query = callbackOf(reply.xml);
    return reply;
  };
  return {
    answer: async () => follow(await atPost(server, base)),
    press: async (digits: string) => follow(await atPost(server, { ...base, dtmfDigits: digits }, query)),
    /** The gather timed out: AT follows the Redirect (same URL, no digits). */
    silence: async () => follow(await atPost(server, base, query)),
    end: (hangupCause = 'NORMAL_CLEARING') =>
      atPost(server, { ...base, isActive: '0', hangupCause, durationInSeconds: '30', currencyCode: 'KES', amount: '1.50' }),
  };
}

// --- waiting ------------------------------------------------------------------------------------------

/** Waits until the sandbox dialer has placed `count` calls to `to`; returns them. */
export async function placedCalls(server: TestServer, to: string, count = 1, timeoutMs = 5000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const calls = server.services.calls!.list(to);
    if (calls.length >= count || Date.now() > until) return calls;
    await sleep(25);
  }
}

export const savings = (s: TestServer, id: number) => s.services.sandbox!.bank.balance(s.services.sandbox!.bank.savingsAccount(id)!) / 100;
