import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { Writable } from 'node:stream';
import { loadConfig, type Config } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { createServices, type Services } from '../../src/services.js';
import { buildApp } from '../../src/app.js';
import type { RedisStore } from '../../src/session/redis-store.js';
import { codesIn, redisEvidence, registerEvidence, registerSecret, type Evidence } from './secret-sentinel.js';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Log lines a test server wrote, for redaction checks. */
export class LogCapture extends Writable {
  readonly lines: string[] = [];
  constructor() {
    super();
    // Scanned for secrets after the test file (test/helpers/secret-scan.ts).
    registerEvidence(() => this.lines.map((text, i) => ({ where: `log line ${i + 1}`, text })));
  }
  override _write(chunk: Buffer, _enc: string, done: () => void) {
    this.lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    done();
  }
  get text() {
    return this.lines.join('\n');
  }
}

export interface TestServer {
  url: string;
  services: Services;
  config: Config;
  logs: LogCapture;
  /** Posts one AT USSD hop over real HTTP; returns status and body. */
  ussd(fields: Record<string, string>, query?: string): Promise<{ status: number; body: string }>;
  close(): Promise<void>;
}

/** Starts the whole server (built-in sandbox, real Redis unless `REDIS_URL: ''`) on a random port. */
export async function startTestServer(env: Record<string, string> = {}): Promise<TestServer> {
  const config = loadConfig({
    REDIS_URL,
    REDIS_PREFIX: `kiunga-test-${randomBytes(4).toString('hex')}`,
    LOG_LEVEL: 'info',
    PORT: '0',
    HOST: '127.0.0.1',
    // Tests hammer a few demo numbers; the abuse limits have their own tests (test/limits), which set them.
    LIMIT_NUMBER_PER_MIN: '100000',
    ...env,
  });
  const logs = new LogCapture();
  registerConfigSecrets(config);
  const services = await createServices(config, createLogger(config.logLevel, logs));
  // Every one-time code the sandbox outbox receives becomes a secret the scan looks for.
  const outbox = services.outbox;
  if (outbox) {
    const send = outbox.send.bind(outbox);
    outbox.send = async (sms) => {
      for (const code of codesIn(sms.text)) registerSecret(code, 'a one-time code sent by SMS');
      return send(sms);
    };
  }
  const stored: Evidence[] = [];
  registerEvidence(() => stored);
  const server: Server = buildApp(services).listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    services,
    config,
    logs,
    async ussd(fields, query = '') {
      const res = await fetch(`${url}/channels/africastalking/ussd${query}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(fields).toString(),
      });
      return { status: res.status, body: await res.text() };
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      // What the server left in Redis (audit entries, sessions), read while the connection is open.
      if (services.store.kind === 'redis') {
        stored.push(...(await redisEvidence((services.store as RedisStore).client as never, config.redisPrefix).catch(() => [])));
      }
      await services.close();
    },
  };
}

/** The secrets in a test server's settings: the pepper, tokens and keys (short defaults are not secrets). */
function registerConfigSecrets(config: Config): void {
  const walk = (value: unknown, path: string) => {
    if (typeof value === 'string') {
      if (/pepper|token|secret|key|password/i.test(path) && value.length >= 12) registerSecret(value, `the setting ${path}`);
    } else if (Array.isArray(value)) value.forEach((v, i) => walk(v, `${path}[${i}]`));
    else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) walk(v, path ? `${path}.${k}` : k);
  };
  walk(config, '');
}

let counter = 0;
/** A fresh AT-like session id. */
export const newSessionId = () => `ATUid_${Date.now().toString(36)}_${(counter++).toString(36)}_${randomBytes(3).toString('hex')}`;

/** Drives one USSD session hop by hop the way Africa's Talking does (cumulative `text`). */
export function atSession(server: TestServer, phoneNumber: string, serviceCode = '*384*123#') {
  const sessionId = newSessionId();
  const inputs: string[] = [];
  return {
    sessionId,
    /** Sends the next hop: `undefined` dials (text ""), otherwise appends the input. */
    async send(input?: string) {
      if (input !== undefined) inputs.push(input);
      return server.ussd({ sessionId, serviceCode, phoneNumber, networkCode: '63902', text: inputs.join('*') });
    },
    /** Sends the current text again (an aggregator retry). */
    async resend() {
      return server.ussd({ sessionId, serviceCode, phoneNumber, networkCode: '63902', text: inputs.join('*') });
    },
  };
}
