import { spawn } from 'node:child_process';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPhone } from '../../src/authoring/simulate.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const KEY = 'simulator-callback-key-0123456789';

/** Runs `kiunga simulate` as a process with piped stdin; resolves with its output and exit code. */
function simulate(
  args: string[],
  stdin: string,
  env: Record<string, string | undefined> = {},
): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const childEnv = { ...process.env, ...env };
    for (const k of ['REDIS_URL', 'FINERACT_URL', 'AT_CALLBACK_KEY']) if (!(k in env)) delete childEnv[k];
    const child = spawn(process.execPath, ['bin/kiunga.js', 'simulate', ...args], { env: childEnv, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
    child.stdin.end(stdin);
  });
}

describe('kiunga simulate', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ REDIS_URL: '', AT_CALLBACK_KEY: KEY, SMS_PIN_ENABLED: 'true' });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('should dial an embedded server, take the PIN and show the balance (a real process, piped stdin)', async () => {
    const r = await simulate([], '\n1234\n1\n');
    expect(r.code).toBe(0);
    expect(r.out).toContain('embedded server (Fineract sandbox with demo data, memory store)');
    expect(r.out).toMatch(/┌─ CON ─+┐\n│ Welcome Amina\. Enter your PIN: │/);
    expect(r.out).toContain('│ Main menu ');
    expect(r.out).toMatch(/┌─ END ─+┐\n│ Balance +│\n│ Akiba Savings 000000001: KES 12,500\.00 │/);
    expect(r.out).toContain('(session ended; Enter dials again)');
  });

  it('should drive a running server over its AT route with the callback key, another number and commands', async () => {
    let out = '';
    await runPhone(
      { url: server.url, msisdn: '+254711000001', serviceCode: '*384*123#', key: KEY },
      Readable.from([
        '/msisdn +254711000002\n',
        '\n',
        '2468\n',
        '6\n',
        '/hangup\n',
        'hello\n',
        '/sms\n',
        '/sms BAL 2468\n',
        '/call\n',
        '*384*123#\n',
        '/quit\n',
        'never read\n',
      ]),
      (s) => (out += s),
    );
    expect(out).toContain('phone number is now +254711000002');
    expect(out).toContain('│ Welcome Baraka. Enter your PIN: │');
    expect(out).toContain('│ Choose language ');
    expect(out).toContain('(hung up)');
    expect(out).toContain('no session: press Enter to dial, or /help');
    expect(out).toContain('usage: /sms BAL 1234');
    // The SMS goes through the AT SMS route; the reply comes back from the sandbox outbox, without the PIN.
    expect(out).toMatch(/SMS> Balance\nAkiba Savings 000000002: KES 3,000\.00|SMS> Balance Akiba Savings 000000002: KES 3,000\.00/);
    expect(out).not.toContain('SMS> BAL 2468');
    expect(out).toContain('call-backs are answered in the browser phone');
    expect(out.match(/dialling \*384\*123# from \+254711000002/g)).toHaveLength(2);
  });

  it('should show what the server answers without the callback key', async () => {
    let out = '';
    await runPhone({ url: server.url, msisdn: '+254711000001', serviceCode: '*384*123#' }, Readable.from(['\n']), (s) => (out += s));
    expect(out).toMatch(/┌─ HTTP 403 /);
  });

  it('should say so when nothing answers at the URL', async () => {
    let out = '';
    await runPhone(
      { url: 'http://127.0.0.1:9', msisdn: '+254711000001', serviceCode: '*384*123#' },
      Readable.from(['\n']),
      (s) => (out += s),
    );
    expect(out).toContain('cannot reach http://127.0.0.1:9');
  });
});
