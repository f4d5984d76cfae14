import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseFlow, loadFlows, FlowLoadError, formatIssueWithRule } from '../../src/engine/flow-loader.js';
import { machineFactory } from '../../src/engine/flow-versions.js';
import { checkContextFor } from '../../src/engine/flow-check.js';
import { createImplementations } from '../../src/engine/registry.js';
import { createTranslator, type Translator } from '../../src/text/i18n.js';
import type { CheckContext } from '../../src/engine/flow-check.js';
import { createLogger } from '../../src/logger.js';

/** Implementations whose dependencies are never called: the loader checks names against the manifests. */
const unusedDeps = () =>
  createImplementations({
    fineract: {} as never,
    pins: {} as never,
    logger: createLogger('silent'),
  });

const GOOD = `
id: demo
channels: [ussd]
home: menu
machine:
  initial: identify
  states:
    identify:
      invoke:
        src: findCustomer
        onDone: { target: menu, actions: rememberCustomer }
        onError:
          - { guard: { type: errorIs, params: { code: unregistered } }, target: unregistered }
          - { target: unavailable }
    menu:
      meta:
        prompt: menu.title
        options:
          - { key: "1", label: menu.balance, event: BALANCE }
      on: { BALANCE: balance }
    balance:
      invoke: { src: fetchBalances, onDone: { target: done, actions: rememberBalances }, onError: unavailable }
    done: { type: final, meta: { prompt: balance.title } }
    unregistered: { type: final, meta: { prompt: error.unregistered } }
    unavailable: { type: final, meta: { prompt: error.unavailable } }
`;

let ctx: CheckContext;
let translator: Translator;

beforeAll(async () => {
  translator = await createTranslator({ dir: resolve('locales'), fallback: 'en' });
  ctx = checkContextFor(translator);
});

const messagesOf = (source: string) => parseFlow('flows/demo.yaml', source, ctx).issues.map(formatIssueWithRule);

describe('flow loader', () => {
  it('should accept a sound flow', () => {
    expect(messagesOf(GOOD)).toEqual([]);
  });

  const broken: [string, (s: string) => string, RegExp][] = [
    ['a YAML syntax error', (s) => s.replace('channels: [ussd]', 'channels: [ussd'), /^flows\/demo\.yaml:\d+: syntax error/],
    ['a misspelt key', (s) => s.replace('onError: unavailable }', 'onEror: unavailable }'), /machine\.states\.balance\.invoke: .*onEror/],
    [
      'an unknown action',
      (s) => s.replace('actions: rememberCustomer', 'actions: rememberCustomr'),
      /:1\d machine\.states\.identify\.invoke\.onDone\.actions: action 'rememberCustomr' is not implemented/,
    ],
    [
      'an unknown guard',
      (s) => s.replace('type: errorIs', 'type: errorIss'),
      /identify\.invoke\.onError\.0\.guard: guard 'errorIss' is not implemented/,
    ],
    [
      'a guard without its params',
      (s) => s.replace('{ type: errorIs, params: { code: unregistered } }', 'errorIs'),
      /guard 'errorIs' needs params\.code/,
    ],
    [
      'an unknown actor',
      (s) => s.replace('src: fetchBalances', 'src: fetchBalance'),
      /machine\.states\.balance\.invoke\.src: actor 'fetchBalance' is not implemented/,
    ],
    [
      'a missing target',
      (s) => s.replace('on: { BALANCE: balance }', 'on: { BALANCE: balanse }'),
      /machine\.states\.menu\.on\.BALANCE: target 'balanse' does not exist/,
    ],
    [
      'a missing initial state',
      (s) => s.replace('initial: identify', 'initial: start'),
      /machine\.initial: initial state 'start' does not exist/,
    ],
    [
      'a prompt key missing from the locales',
      (s) => s.replace('prompt: menu.title', 'prompt: menu.titel'),
      /machine\.states\.menu\.meta\.prompt: prompt 'menu\.titel' is missing in locale 'en'/,
    ],
    [
      'an invoke without onError',
      (s) => s.replace(', onError: unavailable }', ' }'),
      /machine\.states\.balance\.invoke: invoke needs onError/,
    ],
    [
      'a dead end',
      (s) => s.replace('done: { type: final, meta: { prompt: balance.title } }', 'done: { meta: { prompt: balance.title } }'),
      /machine\.states\.done: dead end/,
    ],
    [
      'an option whose event is not handled',
      (s) => s.replace('event: BALANCE', 'event: BALANC'),
      /options\.0\.event: event 'BALANC' is not handled/,
    ],
    ['a home that does not exist', (s) => s.replace('home: menu', 'home: menu2'), /home: home state 'menu2' does not exist/],
    [
      'a misspelt error code',
      (s) => s.replace('code: unregistered', 'code: unregistred'),
      /:13 machine\.states\.identify\.invoke\.onError\.0\.guard\.params\.code: guard 'errorIs': 'unregistred' is not an error code actors reject with \(did you mean 'unregistered'\?.*\[unknown-error-code\]$/,
    ],
    [
      'a branch on a code the actor never rejects with',
      (s) => s.replace('code: unregistered', 'code: pin-wrong'),
      /:13 machine\.states\.identify\.invoke\.onError\.0\.guard\.params\.code: actor 'findCustomer' never rejects with 'pin-wrong': this branch would never be taken .*\[unraised-error-code\]$/,
    ],
    [
      'a parameter of the wrong type',
      (s) => s.replace('code: unregistered', 'code: 404'),
      /guard\.params\.code: guard 'errorIs' params\.code: 404 is a number, not an error code \[param-type\]$/,
    ],
    [
      'a parameter the guard does not take',
      (s) => s.replace('params: { code: unregistered }', 'params: { code: unregistered, status: done }'),
      /guard\.params: guard 'errorIs' has no params status \(it takes code\) \[param-type\]$/,
    ],
    [
      'params on an action that takes none',
      (s) => s.replace('actions: rememberCustomer', 'actions: { type: rememberCustomer, params: { who: me } }'),
      /onDone\.actions\.params: action 'rememberCustomer' takes no params \[param-type\]$/,
    ],
    [
      'a value outside a closed set',
      (s) => s.replace('actions: rememberCustomer', 'actions: [rememberCustomer, { type: usePurpose, params: { purpose: sned } }]'),
      /onDone\.actions\.1\.params\.purpose: action 'usePurpose' params\.purpose: 'sned' is not one of send, own, loan \(did you mean 'send'\?\) \[param-type\]$/,
    ],
    [
      'an option behind a flag no action of the flow sets',
      (s) => s.replace('event: BALANCE }', 'event: BALANCE, if: hasLoan }'),
      /menu\.meta\.options\.0\.if: flag 'hasLoan' is never set: only rememberMenu, rememberAccounts set it, and this flow never runs them \[undeclared-flag\]$/,
    ],
    [
      'a list no action of the flow sets',
      (s) =>
        s.replace(
          'done: { type: final, meta: { prompt: balance.title } }',
          'done: { type: final, meta: { prompt: balance.title, list: { items: balance, item: balance.line } } }',
        ),
      /done\.meta\.list\.items: view list 'balance' is never set: no action sets it \(did you mean 'balances'\?.*\[undeclared-list\]$/,
    ],
    [
      'code in a flow file',
      (s) => s.replace('onError: unavailable }', 'onError: unavailable, input: "({context}) => context" }'),
      /unrecognized|Unrecognized/,
    ],
  ];

  for (const [what, edit, expected] of broken) {
    it(`should refuse ${what} with a message naming the file, line and path`, () => {
      const edited = edit(GOOD);
      expect(edited).not.toBe(GOOD);
      const messages = messagesOf(edited);
      expect(messages.length).toBeGreaterThan(0);
      expect(messages.join('\n')).toMatch(expected);
      expect(messages.every((m) => m.startsWith('flows/demo.yaml'))).toBe(true);
    });
  }

  it("should refuse a flow whose actor's own text is missing in a locale (a locale problem, with its language and key)", async () => {
    const fixtures = checkContextFor(await createTranslator({ dir: resolve('test/authoring/fixtures/locales'), fallback: 'en' }));
    const issues = parseFlow('flows/demo.yaml', GOOD.replace('src: fetchBalances', 'src: transferWithCode'), fixtures).issues;
    expect(issues.map(formatIssueWithRule)).toEqual([
      "flows/demo.yaml:22 machine.states.balance.invoke.src: actor 'transferWithCode' text 'transfer.pending' is missing in locale 'en' [locale-missing]",
      "flows/demo.yaml:22 machine.states.balance.invoke.src: actor 'transferWithCode' text 'transfer.pending' is missing in locale 'fr' [locale-missing]",
    ]);
    expect(issues[0]).toMatchObject({ rule: 'locale-missing', lang: 'en', key: 'transfer.pending' });
  });

  it('should refuse a whole directory when one file is broken, listing every problem', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kiunga-flows-'));
    try {
      await writeFile(join(dir, 'good.yaml'), GOOD);
      await writeFile(join(dir, 'bad.yaml'), GOOD.replace('id: demo', 'id: other').replace('src: fetchBalances', 'src: nope'));
      await writeFile(join(dir, 'good.test.yaml'), 'not a flow: [');
      const error = await loadFlows(dir, ctx, machineFactory(unusedDeps())).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(FlowLoadError);
      expect((error as FlowLoadError).message).toMatch(/bad\.yaml:\d+ machine\.states\.balance\.invoke\.src: actor 'nope'/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('should refuse two flows answering the same channel or service code, naming both, and load them once each has its own code', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kiunga-flows-'));
    try {
      await writeFile(join(dir, 'a.yaml'), GOOD);
      await writeFile(join(dir, 'b.yaml'), GOOD.replace('id: demo', 'id: other'));
      const error = await loadFlows(dir, ctx, machineFactory(unusedDeps())).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(FlowLoadError);
      expect((error as FlowLoadError).message).toMatch(
        /b\.yaml:\d+ channels: flow 'other' answers ussd \(every code no other flow names\), as flow 'demo' \(.*a\.yaml\) already does/,
      );
      await writeFile(
        join(dir, 'b.yaml'),
        GOOD.replace('id: demo', 'id: other').replace(/^channels: .*$/m, '$&\nserviceCodes: ["*384*7#"]'),
      );
      const flows = await loadFlows(dir, ctx, machineFactory(unusedDeps()));
      expect([...flows.keys()].sort()).toEqual(['demo', 'other']);
      await writeFile(join(dir, 'a.yaml'), GOOD.replace(/^channels: .*$/m, '$&\nserviceCodes: ["*384*7#"]'));
      const clash = await loadFlows(dir, ctx, machineFactory(unusedDeps())).catch((e: unknown) => e);
      expect((clash as FlowLoadError).message).toMatch(/b\.yaml:\d+ serviceCodes: flow 'other' answers ussd \*384\*7#, as flow 'demo'/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('should load the shipped flows cleanly', async () => {
    const flows = await loadFlows(resolve('flows'), ctx, machineFactory(unusedDeps()));
    expect([...flows.keys()]).toContain('banking');
    expect(flows.get('banking')?.homeId).toBe('banking.menu');
  });
});

describe('flow loader on the broken fixtures (a closed set misspelt in a flow file)', () => {
  const cases: [string, RegExp][] = [
    [
      'unknown-error-code',
      /^test\/authoring\/fixtures\/unknown-error-code\/flow\.yaml:13 machine\.states\.identify\.invoke\.onError\.0\.guard\.params\.code: guard 'errorIs': 'unregisterd' is not an error code .*\[unknown-error-code\]$/,
    ],
    [
      'undeclared-flag',
      /^test\/authoring\/fixtures\/undeclared-flag\/flow\.yaml:25 machine\.states\.menu\.meta\.options\.1\.if: flag 'hasLaon' is never set: .*\[undeclared-flag\]$/,
    ],
    [
      'param-type',
      /^test\/authoring\/fixtures\/param-type\/flow\.yaml:13 machine\.states\.identify\.invoke\.onError\.0\.guard\.params\.code: guard 'errorIs' params\.code: 404 is a number, not an error code \[param-type\]$/,
    ],
  ];
  for (const [fixture, expected] of cases) {
    it(`should refuse ${fixture} at load, naming the file, the line and the rule`, async () => {
      const fixtures = await createTranslator({ dir: resolve('test/authoring/fixtures/locales'), fallback: 'en' });
      const error = await loadFlows(`test/authoring/fixtures/${fixture}`, checkContextFor(fixtures), machineFactory(unusedDeps())).catch(
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(FlowLoadError);
      const issues = (error as FlowLoadError).issues;
      expect(issues.map(formatIssueWithRule)).toEqual([expect.stringMatching(expected)]);
      expect(issues[0]!.rule).toBe(fixture);
    });
  }
});

describe('flow registry', () => {
  it('should keep a replaced version for sessions in flight, then drop it', async () => {
    const { FlowVersions } = await import('../../src/engine/flow-versions.js');
    const flows = await loadFlows(resolve('flows'), ctx, machineFactory(unusedDeps()));
    const banking = flows.get('banking')!;
    let now = 0;
    const registry = new FlowVersions(new Map([['banking', banking]]), 1000, () => now);
    const edited = { ...banking, version: 'edited' };
    now = 10;
    registry.install(new Map([['banking', edited]]));
    expect(registry.current('banking')?.version).toBe('edited');
    expect(registry.version('banking', banking.version)).toBe(banking);
    now = 2000;
    registry.install(new Map([['banking', edited]]));
    expect(registry.version('banking', banking.version)).toBeUndefined();
    expect(registry.version('banking', 'edited')).toBe(edited);
  });
});
