import { describe, expect, it } from 'vitest';
import { createActor, setup, toPromise } from 'xstate';
import pino from 'pino';
import {
  deferToRecordWrite,
  flushWrites,
  keepSessionFact,
  newHopScope,
  sessionFact,
  startEarlyReads,
  startRead,
  takeEarlyRead,
  takeRead,
  type HopContext,
} from '../../src/session/hop-context.js';
import { actor, bindHop } from '../../src/engine/actor-kit.js';
import type { FlowContext } from '../../src/engine/types.js';

const logger = pino({ level: 'silent' });

/** Runs a machine that invokes one actor, bound to `hop` when given; resolves with what the actor was handed. */
async function runBound(hop: HopContext | undefined): Promise<HopContext | undefined> {
  const seen: { hop?: HopContext } = {};
  const machine = setup({
    actors: {
      probe: actor(logger, 'probe', async (_input, scope) => {
        if (scope.hop) seen.hop = scope.hop;
      }),
    },
  }).createMachine({
    initial: 'probing',
    states: {
      probing: { invoke: { src: 'probe', input: { context: {} as FlowContext, event: { type: 'START' } }, onDone: 'done' } },
      done: { type: 'final' },
    },
  });
  const running = createActor(machine);
  if (hop) bindHop(running.system, hop);
  running.start();
  await toPromise(running);
  return seen.hop;
}

// The hop's context is passed explicitly: the conversation binds it to its machine's actor system, and every
// actor the machine invokes is handed it.
describe('the hop context', () => {
  it("hands an invoked actor the context bound to its machine's system, the caller, deadline and scope as they are", async () => {
    const hop: HopContext = { caller: { msisdn: '+254720000001', channel: 'ussd' }, deadline: 5_000_000, scope: newHopScope() };
    expect(await runBound(hop)).toBe(hop);
  });

  it('keeps concurrent machines apart, and gives an unbound machine none', async () => {
    const a: HopContext = { deadline: 1 };
    const b: HopContext = { deadline: 2 };
    const [seenA, seenB, none] = await Promise.all([runBound(a), runBound(b), runBound(undefined)]);
    expect(seenA).toBe(a);
    expect(seenB).toBe(b);
    expect(none).toBeUndefined();
  });

  it("shares the hop's early reads, facts and deferred writes; outside a hop each runs at once", async () => {
    const hop: HopContext = { scope: newHopScope() };
    let reads = 0;
    const read = async () => ++reads;
    startRead(hop, 'menu', read);
    startRead(hop, 'menu', read);
    expect(await takeRead(hop, 'menu', read)).toBe(1);
    // Taken: a second take reads again.
    expect(await takeRead(hop, 'menu', read)).toBe(2);
    startRead(undefined, 'menu', read);
    expect(await takeRead(undefined, 'menu', read)).toBe(3);

    startEarlyReads(hop, ['k'], async (key) => `early ${key}`);
    expect(await takeEarlyRead(hop, 'k')).toBe('early k');
    expect(takeEarlyRead(hop, 'k')).toBeUndefined();
    expect(takeEarlyRead(undefined, 'k')).toBeUndefined();

    keepSessionFact(hop, 'pin-salt:1', 'salt');
    expect(sessionFact(hop, 'pin-salt:1')).toBe('salt');
    expect(sessionFact(undefined, 'pin-salt:1')).toBeUndefined();

    const written: string[] = [];
    expect(deferToRecordWrite(hop, async () => written.push('audit'))).toBe(true);
    expect(deferToRecordWrite(undefined, async () => written.push('never'))).toBe(false);
    expect(written).toEqual([]);
    await flushWrites(hop.scope!);
    expect(written).toEqual(['audit']);
  });
});
