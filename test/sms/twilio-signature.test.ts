import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import twilio from 'twilio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTwilioSignature } from '../../src/channels/twilio-signature.js';

const TOKEN = 'twilio-test-token-0123456789';
const PUBLIC = 'https://kiunga.example.com/base/';
let hits = 0;

function appWith(authToken: string | undefined, publicUrl: string | undefined) {
  const app = express();
  app.use(express.urlencoded({ extended: false }));
  app.all('/hook', requireTwilioSignature({ authToken, publicUrl }), (_req, res) => {
    hits += 1;
    res.type('text/plain').send('ok');
  });
  return app;
}

const servers: Server[] = [];
async function listen(app: express.Express): Promise<string> {
  const server = app.listen(0, '127.0.0.1');
  servers.push(server);
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

let signed: string;
let noToken: string;
let noPublicUrl: string;
beforeAll(async () => {
  signed = await listen(appWith(TOKEN, PUBLIC));
  noToken = await listen(appWith(undefined, PUBLIC));
  noPublicUrl = await listen(appWith(TOKEN, undefined));
});
afterAll(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
});

const params = { From: '+254711000001', To: '+15005550006', Body: 'BAL 1234', MessageSid: 'SM1', Tag: ['b', 'a'] };
const form = () => {
  const f = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) for (const x of Array.isArray(v) ? v : [v]) f.append(k, x);
  return f.toString();
};
const post = (base: string, path: string, signature?: string, body = form()) =>
  fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(signature ? { 'x-twilio-signature': signature } : {}) },
    body,
  });

describe('requireTwilioSignature', () => {
  it('should pass a request signed by the twilio library over PUBLIC_URL + path + query and every parameter', async () => {
    const before = hits;
    const sig = twilio.getExpectedTwilioSignature(TOKEN, 'https://kiunga.example.com/base/hook?x=1', params);
    const res = await post(signed, '/hook?x=1', sig);
    expect(res.status).toBe(200);
    expect(hits).toBe(before + 1);
  });

  it('should refuse missing, forged, other-URL and tampered-body signatures with 403 and no side effect', async () => {
    const before = hits;
    const good = twilio.getExpectedTwilioSignature(TOKEN, 'https://kiunga.example.com/base/hook', params);
    const cases = [
      await post(signed, '/hook'),
      await post(signed, '/hook', 'AAAAAAAAAAAAAAAAAAAAAAAAAAA='),
      await post(
        signed,
        '/hook',
        twilio.getExpectedTwilioSignature('another-token-0123456789', 'https://kiunga.example.com/base/hook', params),
      ),
      await post(signed, '/hook?x=2', good),
      await post(signed, '/hook', twilio.getExpectedTwilioSignature(TOKEN, `http://127.0.0.1/hook`, params)),
      await post(signed, '/hook', good, form().replace('BAL', 'MINI')),
    ];
    for (const res of cases) {
      expect(res.status).toBe(403);
      expect(await res.text()).toBe('forbidden');
    }
    expect(hits).toBe(before);
    // The untampered request with the same signature still passes.
    expect((await post(signed, '/hook', good)).status).toBe(200);
  });

  it('should refuse everything, signed or not, when TWILIO_AUTH_TOKEN or PUBLIC_URL is unset', async () => {
    const before = hits;
    const sig = twilio.getExpectedTwilioSignature(TOKEN, 'https://kiunga.example.com/base/hook', params);
    expect((await post(noToken, '/hook', sig)).status).toBe(403);
    expect((await post(noToken, '/hook')).status).toBe(403);
    expect((await post(noPublicUrl, '/hook', sig)).status).toBe(403);
    expect(hits).toBe(before);
  });
});
