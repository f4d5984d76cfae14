import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { flowFor, type FlowCatalogue } from '../../src/channels/flow-routing.js';
import type { LoadedFlow } from '../../src/engine/flow-loader.js';

/**
 * Which flow answers which channel and USSD service code comes from the flow files (`channels:`,
 * `serviceCodes:`): a new flow file is served without a TypeScript change.
 */

const PROMO = `id: promo
description: A promotion on its own USSD code.
channels: [ussd]
serviceCodes: ['*384*1#']
machine:
  initial: thanks
  states:
    thanks:
      meta: { prompt: common.goodbye }
      type: final
`;

let root: string;
let server: TestServer;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'kiunga-routing-'));
  await cp('flows', join(root, 'flows'), { recursive: true });
  await writeFile(join(root, 'flows', 'promo.yaml'), PROMO);
  server = await startTestServer({ FLOWS_DIR: join(root, 'flows'), REDIS_URL: '' });
});
afterAll(async () => {
  await server?.close();
  await rm(root, { recursive: true, force: true });
});

describe('flows choose their channels and service codes', () => {
  it('should serve a new flow file on the service code it names, without touching TypeScript', async () => {
    const promo = await server.ussd({ sessionId: 'ATUid_promo_1', serviceCode: '*384*1#', phoneNumber: '+254711000001', text: '' });
    expect(promo).toEqual({ status: 200, body: `END ${server.services.translator.t('en', 'common.goodbye')}` });
  });

  it('should keep answering every other code with the USSD flow that names no code', async () => {
    const banking = await server.ussd({ sessionId: 'ATUid_promo_2', serviceCode: '*384*123#', phoneNumber: '+254711000001', text: '' });
    expect(banking.body).toBe('CON Welcome Amina. Enter your PIN:');
  });
});

describe('flowFor', () => {
  const catalogue = (defs: Record<string, { channels: string[]; serviceCodes?: string[] }>): FlowCatalogue => ({
    ids: () => Object.keys(defs),
    current: (id) => (defs[id] ? ({ id, definition: defs[id] } as unknown as LoadedFlow) : undefined),
  });

  it('should prefer the flow naming the code, then the catch-all of the channel, then nothing', () => {
    const flows = catalogue({
      sms: { channels: ['sms'] },
      banking: { channels: ['ussd', 'voice'] },
      promo: { channels: ['ussd'], serviceCodes: ['*384*1#'] },
    });
    expect(flowFor(flows, 'ussd', '*384*1#')).toBe('promo');
    expect(flowFor(flows, 'ussd', '*384*123#')).toBe('banking');
    expect(flowFor(flows, 'voice')).toBe('banking');
    expect(flowFor(flows, 'sms')).toBe('sms');
    expect(flowFor(catalogue({ promo: { channels: ['ussd'], serviceCodes: ['*1#'] } }), 'ussd', '*2#')).toBeUndefined();
  });

  it('should choose among flows claiming the same thing by id, whatever the order they were read in', () => {
    expect(flowFor(catalogue({ zeta: { channels: ['ussd'] }, alpha: { channels: ['ussd'] } }), 'ussd', '*1#')).toBe('alpha');
  });
});
