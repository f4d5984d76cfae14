import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActor, fromPromise, type AnyActorLogic, type AnyStateMachine } from 'xstate';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { createServices, type Services } from '../../src/services.js';
import { Conversation, confirmStates } from '../../src/engine/conversation.js';
import { FlowError } from '../../src/engine/actor-kit.js';
import { currentScreenMeta } from '../../src/engine/screen.js';
import type { LoadedFlow } from '../../src/engine/flow-loader.js';
import { USSD_KEYS } from '../../src/constants.js';
import { LogCapture } from '../helpers/server.js';

/**
 * The engine on its own: the shipped banking flow with its actors replaced through XState's
 * `machine.provide()`, so each test states exactly what Fineract "answered" without any I/O.
 */

const AMINA = { clientId: 1, displayName: 'Amina Wanjiru', firstName: 'Amina', officeId: 1, active: true };
let services: Services;
let banking: LoadedFlow;

beforeAll(async () => {
  services = await createServices(loadConfig({ LOG_LEVEL: 'info', PORT: '0', HOST: '127.0.0.1' }), createLogger('info', new LogCapture()));
  banking = services.flows.current('banking')!;
});
afterAll(async () => {
  await services?.close();
});

/** The banking flow with the named actors replaced by fakes. */
function withActors(actors: Record<string, AnyActorLogic>): LoadedFlow {
  return { ...banking, machine: banking.machine.provide({ actors } as never) as AnyStateMachine };
}
const resolves = (value: unknown) => fromPromise(async () => value);
const rejects = (code: ConstructorParameters<typeof FlowError>[0]) =>
  fromPromise(async () => {
    throw new FlowError(code);
  });

const start = (flow: LoadedFlow) =>
  Conversation.start(flow, { channel: 'ussd', session: 'test:1', msisdn: '+254711000001', lang: 'en' }, Date.now() + 5000);
const screenOf = (c: Conversation) => (currentScreenMeta(c.flow, c.snapshot)?.id ?? String(c.snapshot.value)).replace(/^banking\./, '');

describe('the banking flow with fake actors (machine.provide)', () => {
  it('should end on the unregistered screen when nobody owns the number and sign-up is not offered', async () => {
    // startSignup answers unregistered where no sign-up is served (a voice call, or no sign-up service).
    const c = await start(withActors({ findCustomer: rejects('unregistered'), startSignup: rejects('unregistered') }));
    expect(c.ended).toBe(true);
    expect(screenOf(c)).toBe('unregistered');
  });

  it('should offer to open an account when nobody owns the number and sign-up is served', async () => {
    const c = await start(withActors({ findCustomer: rejects('unregistered'), startSignup: resolves({ step: 'name' }) }));
    expect(c.ended).toBe(false);
    expect(screenOf(c)).toBe('signupWelcome');
  });

  it('should ask again after a wrong PIN, then show only the menu items this customer can use', async () => {
    let tries = 0;
    const flow = withActors({
      findCustomer: resolves(AMINA),
      verifyPin: fromPromise(async () => {
        if (tries++ === 0) throw new FlowError('pin-wrong', { attemptsLeft: 2 });
        return true;
      }),
      loadMenu: resolves({ pending: false, accounts: { savings: [], loans: [] } }),
    });
    const c = await start(flow);
    expect(screenOf(c)).toBe('pin');
    await c.apply('0000', USSD_KEYS);
    expect(screenOf(c)).toBe('pinRetry');
    expect(c.context.view.attemptsLeft).toBe(2);
    await c.apply('1234', USSD_KEYS);
    expect(screenOf(c)).toBe('menu');
    // No savings account: "Send money" (if: hasAccount) is not offered, and its key is not understood.
    expect(c.context.data.hasAccount).toBe(false);
    expect(await c.apply('3', USSD_KEYS)).toBe(false);
    expect(screenOf(c)).toBe('menu');
  });

  it('should go to the unavailable screen when the balance cannot be read', async () => {
    const flow = withActors({
      findCustomer: resolves(AMINA),
      verifyPin: resolves(true),
      loadMenu: resolves({ pending: false, accounts: { savings: [], loans: [] } }),
      fetchBalances: rejects('unavailable'),
    });
    const c = await start(flow);
    await c.apply('1234', USSD_KEYS);
    await c.apply('1', USSD_KEYS);
    expect(c.ended).toBe(true);
    expect(screenOf(c)).toBe('unavailable');
  });

  it("should know the money confirmation screens from the flow itself, the one-time code prompts and an approver's PIN included (threats T25, T29, T31)", () => {
    expect([...confirmStates(banking).keys()].sort()).toEqual([
      'banking.approvePin',
      'banking.approvePinRetry',
      'banking.code',
      'banking.codeResent',
      'banking.codeResumed',
      'banking.codeRetry',
      'banking.codeSendLimit',
      'banking.confirm',
      'banking.confirmRetry',
    ]);
    expect(confirmStates(banking).get('banking.approvePin')).toBe('approveRequest');
    expect(confirmStates(banking).get('banking.confirm')).toBe('transferMoney');
  });

  it("should know an agent's cash-out request as a confirmation that moves no money, beside the cash-in that does", () => {
    const agent = services.flows.current('agent')!;
    expect(Object.fromEntries(confirmStates(agent))).toEqual({
      'agent.cashInConfirm': 'agentCashIn',
      'agent.cashInRetry': 'agentCashIn',
      'agent.cashOutConfirm': 'agentCashOut',
      'agent.cashOutRetry': 'agentCashOut',
    });
  });
});

describe('a restored conversation without an actor', () => {
  /** The banking flow with fakes, counting the actors restored from a snapshot (every restored actor is). */
  function counted() {
    const flow = withActors({
      findCustomer: resolves(AMINA),
      verifyPin: resolves(true),
      loadMenu: resolves({ pending: false, accounts: { savings: [], loans: [] } }),
      fetchBalances: resolves([]),
    });
    const machine = flow.machine as unknown as { restoreSnapshot: (...args: unknown[]) => unknown };
    const restore = machine.restoreSnapshot.bind(machine);
    const counter = { restored: 0 };
    machine.restoreSnapshot = (...args: unknown[]) => {
      counter.restored++;
      return restore(...args);
    };
    return { flow, counter };
  }
  /** A session resting on the menu, persisted as the runner persists it, with the language screen visited. */
  async function atMenu(flow: LoadedFlow) {
    const c = await start(flow);
    await c.apply('1234', USSD_KEYS);
    await c.apply('6', USSD_KEYS);
    await c.apply('0', USSD_KEYS);
    const state = JSON.parse(JSON.stringify({ ...c.persist(), history: [...c.history, 'language'] }));
    c.stop();
    return state as ReturnType<Conversation['persist']>;
  }

  it('should show the screen, a notice, back and home without an actor, and persist what an actor would', async () => {
    const { flow, counter } = counted();
    const menu = await atMenu(flow);
    const restoredBefore = counter.restored;

    const invalid = Conversation.restore(flow, menu, Date.now() + 5000);
    expect(await invalid.apply('55', USSD_KEYS)).toBe(false);
    expect(invalid.notice).toBe('error.invalidChoice');
    expect(invalid.screen().stateId).toBe('banking.menu');
    // Nothing moved: the snapshot is persisted as it was restored.
    expect(invalid.persist()).toEqual(menu);
    invalid.stop();

    // Back from the language screen to the menu: the state is resolved, not run.
    const onLanguage = { ...menu, snapshot: { ...(menu.snapshot as object), value: 'language' } };
    const back = Conversation.restore(flow, onLanguage, Date.now() + 5000);
    expect(await back.apply('0', USSD_KEYS)).toBe(true);
    expect(screenOf(back)).toBe('menu');
    const viaActor = createActor(flow.machine, { snapshot: flow.machine.resolveState({ value: 'menu', context: back.context }) });
    viaActor.start();
    expect(back.persist().snapshot).toEqual(viaActor.getPersistedSnapshot());
    viaActor.stop();
    back.stop();
    expect(counter.restored - restoredBefore).toBe(1); // only the comparison's own actor

    // An event may invoke an actor (the balance read): the machine runs as an actor, restored once.
    const balance = Conversation.restore(flow, menu, Date.now() + 5000);
    await balance.apply('1', USSD_KEYS);
    expect(screenOf(balance)).toBe('showBalance');
    expect(counter.restored - restoredBefore).toBe(2);
    balance.stop();
  });

  it('should restore a snapshot persisted by an actor before this change and go on from it', async () => {
    const { flow } = counted();
    const menu = await atMenu(flow);
    // What an actor restored from the record persists, the form every record written so far has.
    const old = createActor(flow.machine, { snapshot: menu.snapshot as never });
    old.start();
    const persistedByActor = JSON.parse(JSON.stringify(old.getPersistedSnapshot()));
    old.stop();
    const c = Conversation.restore(flow, { snapshot: persistedByActor, history: menu.history }, Date.now() + 5000);
    expect(c.screen()).toEqual(Conversation.restore(flow, menu, Date.now() + 5000).screen());
    await c.apply('1', USSD_KEYS);
    expect(c.ended).toBe(true);
    expect(screenOf(c)).toBe('showBalance');
  });
});
