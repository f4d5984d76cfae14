import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { createServices, type Services } from '../../src/services.js';
import { TurnRunner } from '../../src/engine/turn-runner.js';
import type { ChannelProfile, TurnRequest } from '../../src/engine/turn-types.js';
import { ussdProfile } from '../../src/channels/ussd-screen.js';
import { smsProfile } from '../../src/channels/sms-screen.js';
import { voiceProfile } from '../../src/channels/voice-render.js';
import type { Turn } from '../../src/engine/types.js';
import { LogCapture } from '../helpers/server.js';
import { decodeRecord } from '../../src/engine/session-record.js';

/**
 * The turn runner returns one neutral turn per hop and has it rendered once by the channel's presenter;
 * paging ("98 More") is the USSD presenter's state, kept with the session, not the engine's.
 */

const AMINA = '+254711000001';
let services: Services;
let runner: TurnRunner;
const renders: Turn[] = [];

beforeAll(async () => {
  const config = loadConfig({ LOG_LEVEL: 'info', PORT: '0', HOST: '127.0.0.1' });
  services = await createServices(config, createLogger('info', new LogCapture()));
  // A narrow screen, so that the main menu pages.
  const ussd = ussdProfile({ ttlMs: 60_000, limits: { 'GSM-7': 40, 'UCS-2': 20 }, translator: services.translator });
  const counting: ChannelProfile = {
    ...ussd,
    presenter: {
      navigate: (input, view, current) => ussd.presenter.navigate!(input, view, current),
      render: (turn, texts, view) => {
        renders.push(turn);
        return ussd.presenter.render(turn, texts, view);
      },
    },
  };
  runner = new TurnRunner({
    store: services.store,
    keys: services.keys,
    flows: services.flows,
    translator: services.translator,
    logger: services.logger,
    defaultLanguage: 'en',
    profiles: { ussd: counting, sms: smsProfile({ ttlMs: 60_000 }), voice: voiceProfile({ ttlMs: 60_000 }) },
  });
});
afterAll(async () => {
  await services?.close();
});

let hop = 0;
const request = (sessionId: string, inputs: string[]): TurnRequest => ({
  channel: 'ussd',
  sessionId,
  msisdn: AMINA,
  serviceCode: '*384*123#',
  flowId: 'banking',
  hopKey: `hop-${hop++}`,
  inputs: () => ({ inputs, transport: null }),
});
const run = (sessionId: string, inputs: string[]) => runner.run(request(sessionId, inputs), Date.now() + 5000);
const record = async (sessionId: string) => decodeRecord((await services.store.get(services.keys.session('ussd', sessionId)))!);

describe('turn runner: neutral turns', () => {
  it('should render once per hop, however many inputs the hop carries', async () => {
    const session = `test:${Date.now()}:once`;
    renders.length = 0;
    expect((await run(session, [])).text).toMatch(/PIN/);
    expect(renders).toHaveLength(1);
    renders.length = 0;
    const menu = await run(session, ['1234']);
    expect(menu.text).toMatch(/^Main menu\n1\. Balance/);
    expect(menu.text).toContain('98. More');
    expect(renders).toHaveLength(1);
    // Two pages forward in one hop (a dial string): measured from the session's presenter state, rendered once.
    renders.length = 0;
    const third = await run(session, ['98', '98']);
    expect(renders).toHaveLength(1);
    expect(third.text).toContain('0. Back');
    expect(third.text).not.toMatch(/^Main menu/);
  });

  it('should page a screen reached in the same hop (a dial string ending in 98) as when the 98 comes alone', async () => {
    const apart = `test:${Date.now()}:apart`;
    await run(apart, []);
    await run(apart, ['1234']);
    const second = await run(apart, ['98']);
    const together = `test:${Date.now()}:together`;
    await run(together, []);
    expect(await run(together, ['1234', '98'])).toEqual(second);
  });

  it('should hand the presenter a neutral turn: keys and raw variables, nothing translated', async () => {
    const session = `test:${Date.now()}:neutral`;
    renders.length = 0;
    await run(session, []);
    const turn = renders[0]!;
    expect(turn).toMatchObject({
      end: false,
      lang: 'en',
      screen: { stateId: 'banking.pin', final: false, prompt: { key: 'pin.ask' }, input: 'pin' },
    });
    expect(turn.closing).toBeUndefined();
    expect(JSON.stringify(turn)).not.toContain('Enter your PIN');
  });

  it('should keep the page in the presenter state of the session record, not in the engine state', async () => {
    const session = `test:${Date.now()}:page`;
    await run(session, []);
    const first = await run(session, ['1234']);
    const second = await run(session, ['98']);
    expect(second.text).not.toBe(first.text);
    const saved = await record(session);
    expect(saved.view).toMatchObject({ page: 1 });
    expect(saved).not.toHaveProperty('page');
    // "0" on page 2 goes back a page (the presenter's), not back a screen (the engine's).
    expect((await run(session, ['0'])).text).toBe(first.text);
    expect(await record(session)).toMatchObject({ view: { page: 0 } });
  });

  it('should mark a runner-made end explicitly and render it once', async () => {
    const session = `test:${Date.now()}:closing`;
    await run(session, []);
    renders.length = 0;
    // The same session claimed by another number: a polite end made by the runner.
    const refused = await runner.run({ ...request(session, ['1234']), msisdn: '+254711000002' }, Date.now() + 5000);
    expect(refused).toEqual({ end: true, text: services.translator.t('en', 'error.generic') });
    expect(renders).toHaveLength(1);
    expect(renders[0]).toMatchObject({ end: true, closing: 'error.generic', screen: { final: true, prompt: { key: 'error.generic' } } });
    expect(renders[0]!.screen.stateId).toBeUndefined();
  });

  it('should answer a repeated hop with the rendered body it recorded, without rendering again', async () => {
    const session = `test:${Date.now()}:replay`;
    await run(session, []);
    const req = request(session, ['1234']);
    const first = await runner.run(req, Date.now() + 5000);
    renders.length = 0;
    expect(await runner.run(req, Date.now() + 5000)).toEqual(first);
    expect(renders).toHaveLength(0);
    const saved = await record(session);
    expect(saved.reply).toEqual(first);
  });
});

describe('turn runner: the session record', () => {
  it('should continue a session whose record was written before the compact form (a deployment mid-session)', async () => {
    const session = `test:${Date.now()}:v1`;
    const dial = request(session, []);
    const pinPrompt = await runner.run(dial, Date.now() + 5000);
    const now = await record(session);
    // The form written before (v1): full field names and the replies of the last hops.
    const v1 = {
      v: 1,
      flowId: now.flowId,
      flowVersion: now.flowVersion,
      snapshot: now.snapshot,
      history: now.history,
      msisdn: now.msisdn,
      serviceCode: now.serviceCode,
      ended: false,
      transport: now.transport,
      hops: [{ key: dial.hopKey, reply: pinPrompt }],
    };
    await services.store.set(services.keys.session('ussd', session), JSON.stringify(v1), 60_000);
    // A retry of the hop the old record holds gets its reply, nothing runs or renders; the next hop continues
    // where it was (the PIN, not a dial string: the machine was restored).
    renders.length = 0;
    expect(await runner.run(dial, Date.now() + 5000)).toEqual(pinPrompt);
    expect(renders).toHaveLength(0);
    expect((await run(session, ['1234'])).text).toMatch(/^Main menu/);
    expect(renders.map((t) => t.screen.stateId)).toEqual(['banking.menu']);
    expect(await services.store.get(services.keys.session('ussd', session))).toMatch(/^\{"v":2,/);
  });

  it('should keep no machine once the session ended, only what a repeated hop needs', async () => {
    const session = `test:${Date.now()}:ended`;
    await run(session, []);
    await run(session, ['1234']);
    const last = request(session, ['1']);
    const balance = await runner.run(last, Date.now() + 5000);
    expect(balance.end).toBe(true);
    const raw = (await services.store.get(services.keys.session('ussd', session)))!;
    expect(JSON.parse(raw)).not.toHaveProperty('s');
    expect((await record(session)).reply).toEqual(balance);
    expect(await runner.run(last, Date.now() + 5000)).toEqual(balance);
  });
});

describe('turn runner: the abuse limits', () => {
  it('should run nothing for a hop the abuse limits refused, and leave the session unlocked', async () => {
    const session = `test:${Date.now()}:refused`;
    renders.length = 0;
    const hops = async () => (await runner.metrics[0]!.get()).values.reduce((n, v) => n + v.value, 0);
    const counted = await hops();
    await runner.run({ ...request(session, []), admitted: Promise.resolve({ ok: false }) }, Date.now() + 5000);
    expect(renders).toHaveLength(0);
    expect(await services.store.get(services.keys.session('ussd', session))).toBeNull();
    expect(await services.store.get(services.keys.lock('ussd', session))).toBeNull();
    // Counted by the refusals metric of the channel wrapper, not as a hop.
    expect(await hops()).toBe(counted);
    // Admitted, the same session opens at once (no lock left behind).
    expect((await runner.run({ ...request(session, []), admitted: Promise.resolve({ ok: true }) }, Date.now() + 5000)).text).toMatch(/PIN/);
  });
});
