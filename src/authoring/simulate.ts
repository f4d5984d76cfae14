import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { loadConfig } from '../config.js';
import { createLogger } from '../logger.js';
import { parse as parseCommandArgs, UsageError, type CliIo } from './cli-args.js';

/**
 * `kiunga simulate`: a phone in the terminal. It speaks to the Africa's Talking USSD route exactly as the
 * aggregator does (form posts, cumulative `text`, CON/END answers), against a running server (`--url`) or an
 * embedded one with the sandbox. SMS and call-back voice are announced as not available until their channel
 * exists.
 */

export interface PhoneOptions {
  /** Base URL of the server, e.g. http://127.0.0.1:3000. */
  url: string;
  msisdn: string;
  serviceCode: string;
  /** AT_CALLBACK_KEY of the server, when it requires one. */
  key?: string;
}

export interface UssdAnswer {
  end: boolean;
  text: string;
  status: number;
}

/** One USSD session the way Africa's Talking drives it. */
export class UssdSession {
  readonly sessionId = `sim-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  private readonly inputs: string[] = [];
  ended = false;

  constructor(private readonly options: PhoneOptions) {}

  /** Dials (no input) or answers the current screen. */
  async send(input?: string): Promise<UssdAnswer> {
    if (input !== undefined) this.inputs.push(input);
    const query = this.options.key ? `?key=${encodeURIComponent(this.options.key)}` : '';
    const res = await fetch(`${this.options.url.replace(/\/$/, '')}/channels/africastalking/ussd${query}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        sessionId: this.sessionId,
        serviceCode: this.options.serviceCode,
        phoneNumber: this.options.msisdn,
        networkCode: '63902',
        text: this.inputs.join('*'),
      }).toString(),
    });
    const body = await res.text();
    const end = !body.startsWith('CON ');
    this.ended = end;
    return { end, text: body.replace(/^(CON|END) ?/, ''), status: res.status };
  }
}

/** The screen as a box, the way the terminal phone prints it. */
export function drawScreen(answer: UssdAnswer): string {
  const lines = answer.text.split('\n');
  const width = Math.max(24, ...lines.map((l) => [...l].length));
  const title = answer.status === 200 ? (answer.end ? 'END' : 'CON') : `HTTP ${answer.status}`;
  return [
    `┌─ ${title} ${'─'.repeat(Math.max(0, width - title.length - 1))}┐`,
    ...lines.map((l) => `│ ${l}${' '.repeat(width - [...l].length)} │`),
    `└${'─'.repeat(width + 2)}┘`,
  ].join('\n');
}

const HELP = `Enter (on an idle phone) dials; a code like *384*123# dials that code; anything else answers the screen.
  /dial [code]     dial (again)            /hangup   leave the session
  /msisdn <number> change the phone number /quit     leave the simulator
  /sms <text>      send an SMS keyword (e.g. /sms BAL 1234) and print the reply from the sandbox outbox
  /call            call-backs are answered in the browser phone (/simulator), not in the terminal`;

/** Sends one SMS as Africa's Talking would and waits for the reply in the sandbox outbox (sandbox only). */
export async function sendSms(phone: PhoneOptions, text: string, waitMs = 5000): Promise<string> {
  const base = phone.url.replace(/\/$/, '');
  const outboxUrl = `${base}/sandbox/outbox?to=${encodeURIComponent(phone.msisdn)}`;
  const before = await fetch(outboxUrl)
    .then(async (r) => (r.ok ? ((await r.json()) as unknown[]).length : undefined))
    .catch(() => undefined);
  const query = phone.key ? `?key=${encodeURIComponent(phone.key)}` : '';
  const id = `sim-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  const res = await fetch(`${base}/channels/africastalking/sms${query}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      from: phone.msisdn,
      to: '20880',
      text,
      id,
      date: new Date().toISOString(),
      networkCode: '63902',
    }).toString(),
  });
  if (!res.ok) return `SMS refused: HTTP ${res.status}`;
  if (before === undefined) return '(sent; the reply goes to the phone through the messaging provider)';
  for (const until = Date.now() + waitMs; Date.now() < until;) {
    const list = (await (await fetch(outboxUrl)).json()) as { text: string }[];
    if (list.length > before)
      return list
        .slice(before)
        .map((m) => `SMS> ${m.text}`)
        .join('\n');
    await new Promise((r) => setTimeout(r, 200));
  }
  return '(sent; no reply yet)';
}

/** The interactive loop over `input` lines; resolves when input ends or on /quit. */
export async function runPhone(
  options: PhoneOptions,
  input: NodeJS.ReadableStream,
  print: (text: string) => void,
  interactive = false,
): Promise<void> {
  let phone = { ...options };
  let session: UssdSession | undefined;
  const rl = createInterface({ input, terminal: false });
  const prompt = () => interactive && print(session && !session.ended ? 'reply> ' : 'idle> ');
  const dial = async (code?: string) => {
    if (code) phone = { ...phone, serviceCode: code };
    session = new UssdSession(phone);
    print(`dialling ${phone.serviceCode} from ${phone.msisdn}\n`);
    await show(() => session!.send());
  };
  const show = async (call: () => Promise<UssdAnswer>) => {
    try {
      const answer = await call();
      print(`${drawScreen(answer)}\n`);
      if (answer.end) print('(session ended; Enter dials again)\n');
    } catch (error) {
      print(`cannot reach ${phone.url}: ${(error as Error).message}\n`);
      if (session) session.ended = true;
    }
  };
  print(`Kiunga phone ${phone.msisdn} -> ${phone.url}\nPress Enter to dial ${phone.serviceCode}; /help for commands.\n`);
  prompt();
  for await (const raw of rl) {
    const line = raw.trim();
    const [command, arg] = line.split(/\s+/, 2);
    if (command === '/quit' || command === '/exit') break;
    if (command === '/help') print(`${HELP}\n`);
    else if (command === '/dial') await dial(arg);
    else if (command === '/hangup') {
      session = undefined;
      print('(hung up)\n');
    } else if (command === '/msisdn') {
      if (arg && /^\+\d{7,15}$/.test(arg)) {
        phone = { ...phone, msisdn: arg };
        session = undefined;
        print(`phone number is now ${arg}\n`);
      } else print('usage: /msisdn +254711000001\n');
    } else if (command === '/sms') {
      const text = line.slice(4).trim();
      if (!text) print('usage: /sms BAL 1234\n');
      else {
        try {
          print(`${await sendSms(phone, text)}\n`);
        } catch (error) {
          print(`cannot reach ${phone.url}: ${(error as Error).message}\n`);
        }
      }
    } else if (command === '/call') {
      print('call-backs are answered in the browser phone: open /simulator on the same server\n');
    } else if (!session || session.ended) {
      if (line === '' || /^[*#][*#0-9]*#$/.test(line)) await dial(line || undefined);
      else print('no session: press Enter to dial, or /help\n');
    } else if (line === '') print('(type an answer, or /hangup)\n');
    else await show(() => session!.send(line));
    prompt();
  }
  rl.close();
}

export async function simulateCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, {
    url: { type: 'string' },
    msisdn: { type: 'string' },
    code: { type: 'string' },
    key: { type: 'string' },
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  const msisdn = values.msisdn ?? '+254711000001';
  if (!/^\+\d{7,15}$/.test(msisdn)) throw new UsageError('--msisdn must be an E.164 number like +254711000001');
  const serviceCode = values.code ?? '*384*123#';
  let url = values.url;
  let stop = async () => {};
  if (!url) {
    // An embedded server on a free loopback port, with the settings of the environment.
    const config = loadConfig(io.env);
    const { createServices } = await import('../services.js');
    const { buildApp } = await import('../app.js');
    const services = await createServices(config, createLogger('silent'));
    const server: Server = buildApp(services).listen(0, '127.0.0.1');
    await once(server, 'listening');
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    io.stdout(
      `embedded server (${services.sandboxUrl ? 'Fineract sandbox with demo data' : 'FINERACT_URL'}, ${services.store.kind} store)\n`,
    );
    stop = async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await services.close();
    };
    values.key ??= config.africastalking.callbackKey;
  }
  try {
    const input = io.stdin ?? process.stdin;
    await runPhone({ url, msisdn, serviceCode, key: values.key }, input, io.stdout, Boolean((input as { isTTY?: boolean }).isTTY));
  } finally {
    await stop();
  }
  return 0;
}
