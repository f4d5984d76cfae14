import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import twilio from 'twilio';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * A table-driven harness for channel adapters, in the manner of RapidPro's courier: each adapter has a table
 * of cases (`<adapter>.cases.ts`), each case a few requests and what each must answer. The runner serves the
 * whole app in this process on the in-process (memory) store and the built-in sandbox, with a fake clock
 * (Date only, moved by `advanceMs`), and after every case checks that none of the table's secrets (keys,
 * tokens, the PIN pepper, PINs, full numbers) reached a log line the case wrote.
 *
 * To cover a new adapter: write its table and add it to the list in `adapters.test.ts`.
 */

export const PUBLIC_URL = 'https://kiunga.example.org';
export const AT_KEY = 'at-callback-key-harness-0123456789';
export const TWILIO_TOKEN = 'twilio-harness-auth-token-0123456789';
export const PEPPER = 'pepper-of-the-harness-0123456789abcdef';
/** When every table's clock starts. */
export const EPOCH = new Date('2026-11-20T09:00:00+03:00');

export interface Step {
  /** The route, e.g. `/channels/africastalking/ussd`. */
  path: string;
  /** The query string (without `?`); `$KEY` stands for the AT callback key. */
  query?: string;
  /** A form body; in values `$ID` stands for an id unique to the case (a session or message id). */
  form?: Record<string, string>;
  /** A body that is not a form. */
  raw?: { type: string; body: string };
  /** Sign the request as Twilio does (`forged`: a wrong signature). */
  sign?: true | 'forged';
  /** Moves the fake clock before the request. */
  advanceMs?: number;
  status: number;
  /** The whole body, or a pattern it matches. */
  body?: string | RegExp;
  /** Texts the body contains. */
  contains?: string[];
  headers?: Record<string, RegExp>;
}

export interface ChannelCase {
  name: string;
  /** The threat (docs/threats.md) the case defends, when it defends one. */
  threat?: string;
  steps: Step[];
}

export interface CaseTable {
  adapter: string;
  /** Settings of the server this table runs on (added to the harness defaults). */
  env?: Record<string, string>;
  /** Strings that must never appear in a log line (the harness adds its keys, token and pepper). */
  secrets?: (string | RegExp)[];
  cases: ChannelCase[];
}

/** Every way the demo numbers can be written in full, and the demo PINs as whole numbers. */
const ALWAYS_SECRET: RegExp[] = [/711000001|711000002|711000003|711000004|711 000 00\d/, /(?<![\d.])(1234|2468|1357|8642)(?![\d.])/];

let counter = 0;

/** Runs the tables, one server per table. */
export function runTables(tables: readonly CaseTable[]): void {
  for (const table of tables) {
    describe(`adapter ${table.adapter}`, () => {
      let server: TestServer;
      beforeAll(async () => {
        vi.useFakeTimers({ toFake: ['Date'], now: EPOCH });
        server = await startTestServer({
          REDIS_URL: '',
          LOG_LEVEL: 'debug',
          PUBLIC_URL,
          AT_CALLBACK_KEY: AT_KEY,
          TWILIO_AUTH_TOKEN: TWILIO_TOKEN,
          PIN_PEPPER: PEPPER,
          CALLBACK_DELAY_MS: '50',
          ...table.env,
        });
      });
      afterAll(async () => {
        await server?.close();
        vi.useRealTimers();
      });

      for (const c of table.cases) {
        it(`${c.name}${c.threat ? ` (${c.threat})` : ''}`, async () => {
          // Each case starts ten minutes after the last: the abuse buckets have refilled.
          vi.setSystemTime(Date.now() + 600_000);
          const id = `H${(counter++).toString(36)}x${EPOCH.getTime().toString(36)}`;
          const firstLine = server.logs.lines.length;
          for (const [i, step] of c.steps.entries()) {
            if (step.advanceMs) vi.setSystemTime(Date.now() + step.advanceMs);
            const got = await send(server, step, id);
            const where = `${c.name}, step ${i + 1}`;
            expect(got.status, where).toBe(step.status);
            if (typeof step.body === 'string') expect(got.body, where).toBe(step.body);
            else if (step.body) expect(got.body, where).toMatch(step.body);
            for (const text of step.contains ?? []) expect(got.body, where).toContain(text);
            for (const [name, pattern] of Object.entries(step.headers ?? {}))
              expect(got.headers.get(name) ?? '', `${where}: ${name}`).toMatch(pattern);
          }
          // Secrets never reach a log line (threats T6, T13, T19).
          const written = server.logs.lines.slice(firstLine).join('\n');
          for (const secret of [AT_KEY, TWILIO_TOKEN, PEPPER, ...ALWAYS_SECRET, ...(table.secrets ?? [])]) {
            if (typeof secret === 'string') expect(written, `${c.name}: a secret in the logs`).not.toContain(secret);
            else expect(written, `${c.name}: a secret in the logs`).not.toMatch(secret);
          }
        });
      }
    });
  }
}

async function send(server: TestServer, step: Step, id: string) {
  const query = (step.query ?? '').replaceAll('$KEY', encodeURIComponent(AT_KEY));
  const path = `${step.path}${query ? `?${query}` : ''}`;
  const form = step.form ? Object.fromEntries(Object.entries(step.form).map(([k, v]) => [k, v.replaceAll('$ID', id)])) : undefined;
  const headers: Record<string, string> = {};
  let body: string | undefined;
  if (step.raw) {
    headers['content-type'] = step.raw.type;
    body = step.raw.body;
  } else if (form) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(form).toString();
  }
  if (step.sign) {
    const signature = twilio.getExpectedTwilioSignature(
      step.sign === 'forged' ? 'not-the-token' : TWILIO_TOKEN,
      `${PUBLIC_URL}${path}`,
      form ?? {},
    );
    headers['x-twilio-signature'] = signature;
  }
  const res = await fetch(`${server.url}${path}`, { method: 'POST', headers, body });
  return { status: res.status, headers: res.headers, body: await res.text() };
}
