import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codesIn, findLeaks, registerSecret } from '../helpers/secret-sentinel.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

// The suite-wide check (test/helpers/secret-scan.ts runs it after every file) must catch what it claims to.
describe('the secret sentinel', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ ADMIN_TOKEN: 'sentinel-admin-token-0123456789' });
  });
  afterAll(async () => server.close());

  it('should find a demo PIN, a one-time code and a token in captured log lines, and nothing in clean ones', () => {
    const known = new Map([
      ['1234', 'a PIN'],
      ['482913', 'a code'],
      ['sentinel-admin-token-0123456789', 'a token'],
    ]);
    expect(findLeaks([{ where: 'l1', text: '{"msg":"pin 1234 typed"}' }], known)).toHaveLength(1);
    expect(findLeaks([{ where: 'l2', text: '{"text":"1*1234*482913"}' }], known)).toHaveLength(2);
    expect(findLeaks([{ where: 'l3', text: 'Bearer sentinel-admin-token-0123456789' }], known)).toHaveLength(1);
    // Part of a longer number (a timestamp, an account number) is not a leak.
    expect(findLeaks([{ where: 'l4', text: '{"time":1796123412345,"account":"000000482913"}' }], known)).toEqual([]);
    // Nor is one inside a word: a session id whose random tail ends in the PIN's digits.
    expect(findLeaks([{ where: 'l5', text: '{"session":"at:ATUid_mx7f5vim_ax_6b1234"}' }], known)).toEqual([]);
    // Nor is part of a hash: an audit entry's SHA-256 holds some 4 digits between letters now and then.
    const hash = '2681d2fd78e9d55ee45fed794269eed0389efecbbe742a6d1234a70a01a7f383';
    expect(findLeaks([{ where: 'l5', text: `e {"seq":3,"prev":"${hash}"} h ${hash}` }], known)).toEqual([]);
  });

  it("should know a test server's tokens and every code its SMS outbox received", async () => {
    await server.services.outbox!.send({ to: '+254711000001', text: 'Code 736251 to send KES 20,000.00 to Baraka O. Never share it.' });
    expect(codesIn('Code 736251 to send KES 20,000.00')).toEqual(['736251']);
    server.services.logger.info({ detail: 'code 736251 and Bearer sentinel-admin-token-0123456789' }, 'a careless line');
    registerSecret('9753', 'a PIN a test set');
    server.services.logger.info({ detail: 'new pin 9753' }, 'another careless line');
    const leaks = findLeaks(server.logs.lines.map((text, i) => ({ where: `line ${i}`, text })));
    expect(leaks.join('\n')).toMatch(/one-time code sent by SMS/);
    expect(leaks.join('\n')).toMatch(/the setting \S*[tT]oken/);
    expect(leaks.join('\n')).toMatch(/a PIN a test set/);
    // The careless lines were written on purpose; drop them so the file's own scan stays clean.
    server.logs.lines.length = 0;
  });
});
