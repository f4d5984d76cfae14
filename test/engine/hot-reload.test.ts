import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { createServices, type Services } from '../../src/services.js';
import { buildApp } from '../../src/app.js';
import { LogCapture, newSessionId } from '../helpers/server.js';

/**
 * Hot reload on a whole server (in-process store, sandbox) watching copies of flows/ and locales/: edits are
 * picked up by fs.watch, new sessions get them, sessions in flight keep their version, broken edits are refused.
 */

let root: string;
let services: Services;
let server: Server;
let url: string;
const logs = new LogCapture();

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'kiunga-reload-'));
  await cp('flows', join(root, 'flows'), { recursive: true });
  await cp('locales', join(root, 'locales'), { recursive: true });
  const config = loadConfig({
    FLOWS_DIR: join(root, 'flows'),
    LOCALES_DIR: join(root, 'locales'),
    LOG_LEVEL: 'info',
    PORT: '0',
    HOST: '127.0.0.1',
  });
  services = await createServices(config, createLogger('info', logs), { watch: true });
  server = buildApp(services).listen(0, '127.0.0.1');
  await once(server, 'listening');
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => server?.close(() => resolve()));
  await services?.close();
  await rm(root, { recursive: true, force: true });
});

/** A USSD session over the AT route; `send()` dials. */
function session(phoneNumber = '+254711000001') {
  const sessionId = newSessionId();
  const inputs: string[] = [];
  return async (input?: string) => {
    if (input !== undefined) inputs.push(input);
    const res = await fetch(`${url}/channels/africastalking/ussd`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ sessionId, serviceCode: '*384*123#', phoneNumber, text: inputs.join('*') }).toString(),
    });
    return res.text();
  };
}

const version = () => services.flows.current('banking')!.version;

async function until(what: string, done: () => boolean, ms = 8000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function edit(file: string, change: (text: string) => string): Promise<void> {
  const path = join(root, file);
  const before = await readFile(path, 'utf8');
  const after = change(before);
  expect(after).not.toBe(before);
  await writeFile(path, after);
}

const refusals = () => logs.lines.filter((l) => l.includes('reload refused')).length;

describe('hot reload', () => {
  let inFlight: (input?: string) => Promise<string>;

  it('should give new sessions an edited prompt as soon as the file is saved', async () => {
    inFlight = session();
    expect(await inFlight()).toBe('CON Welcome Amina. Enter your PIN:');
    const old = version();
    await edit('locales/en.json', (t) =>
      t
        .replace('"title": "Main menu"', '"title": "Home menu"')
        .replace('"ask": "Welcome {{name}}. Enter your PIN:"', '"ask": "Hello {{name}}, your PIN please:"'),
    );
    await until('the new version', () => version() !== old);
    const next = session();
    expect(await next()).toBe('CON Hello Amina, your PIN please:');
    expect(await next('1234')).toMatch(/^CON Home menu\n1\. Balance/);
    expect(logs.text).toContain('flows reloaded: new sessions get the new versions');
  });

  it('should let the session in flight finish on the old prompt text', async () => {
    expect(await inFlight('1234')).toMatch(/^CON Main menu\n1\. Balance/);
  });

  it('should keep a session in flight on the flow version it began with', async () => {
    const before = session();
    await before();
    expect(await before('1234')).toMatch(/6\. Language/);
    const old = version();
    await edit('flows/banking.yaml', (t) =>
      // Key 13: 9 to 12 are the business account, Approvals and the loan applications (issues 11 and 12).
      t.replace('- { key: "6", label: menu.language, event: LANGUAGE }', '- { key: "13", label: menu.language, event: LANGUAGE }'),
    );
    await until('the new version', () => version() !== old);
    const after = session();
    await after();
    const menu = await after('1234');
    expect(menu).toMatch(/13\. Language/);
    expect(menu).not.toMatch(/6\. Language/);
    expect(await after('6')).toMatch(/^CON Invalid choice\./);
    // The older session still has key 6.
    expect(await before('6')).toMatch(/^CON Choose language/);
  });

  it('should refuse a syntax error, log where it is, and keep serving the last good version', async () => {
    const good = version();
    const refused = refusals();
    await edit('flows/banking.yaml', (t) => t.replace('channels: [ussd, voice]', 'channels: [ussd, voice'));
    await until('the refusal', () => refusals() > refused);
    const line = logs.lines.filter((l) => l.includes('reload refused')).at(-1)!;
    expect(line).toMatch(/banking\.yaml:\d+: syntax error/);
    expect(version()).toBe(good);
    const s = session();
    expect(await s()).toBe('CON Hello Amina, your PIN please:');
    expect(await s('1234')).toMatch(/^CON Home menu\n[\s\S]*13\. Language/);
  });

  it('should refuse a flow naming a prompt no locale has, and a broken locale file', async () => {
    await edit('flows/banking.yaml', (t) =>
      t.replace('channels: [ussd, voice', 'channels: [ussd, voice]').replace('prompt: menu.title', 'prompt: menu.titel'),
    );
    const refused = refusals();
    await until('the refusal', () => refusals() > refused);
    expect(logs.lines.at(-1)).toMatch(
      /banking\.yaml:\d+ machine\.states\.menu\.meta\.prompt: prompt 'menu\.titel' is missing in locale 'en'/,
    );
    await edit('flows/banking.yaml', (t) => t.replace('prompt: menu.titel', 'prompt: menu.title'));
    await services.flowWatcher!.settled();
    const good = version();
    const again = refusals();
    await edit('locales/fr.json', (t) => t.replace('{', '{,'));
    await until('the refusal', () => refusals() > again);
    expect(logs.lines.filter((l) => l.includes('reload refused')).at(-1)).toMatch(
      /"problems":\["[^"]*locales\/fr\.json:1: syntax error: [^"]+"\],"msg":"reload refused: a locale file is broken/,
    );
    expect(version()).toBe(good);
    const s = session();
    expect(await s()).toBe('CON Hello Amina, your PIN please:');
  });
});
