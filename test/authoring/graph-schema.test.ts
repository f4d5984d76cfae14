import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { z } from 'zod';
import { GraphvizMissing, toDot, toMermaid, toSvg } from '../../src/authoring/graph.js';
import { flowJsonSchema } from '../../src/authoring/schema.js';
import { runAuthoringCommand } from '../../src/authoring/cli.js';
import { parseFlowSource } from '../../src/engine/flow-loader.js';
import { createTranslator, type Translator } from '../../src/text/i18n.js';

let tmp: string;
let fixtureTr: Translator;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'kiunga-graph-'));
  fixtureTr = await createTranslator({ dir: 'test/authoring/fixtures/locales', fallback: 'en' });
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const run = async (command: 'graph' | 'schema', args: string[]) => {
  let out = '';
  let err = '';
  const code = await runAuthoringCommand(command, args, { stdout: (s) => (out += s), stderr: (s) => (err += s), env: {} });
  return { code, out, err };
};

/**
 * The statements of Mermaid's stateDiagram grammar (stateDiagram.jison) the generator uses. Descriptions
 * and arrow labels are the lexer's DESCR token: a colon, then anything but a colon, semicolon or newline.
 */
const MERMAID_LINE = [
  /^stateDiagram-v2$/,
  /^\s*%%[^\n]*$/,
  /^\s*\[\*\] --> [^:\s\-{]+$/,
  /^\s*[^:\s\-{]+ --> (\[\*\]|[^:\s\-{]+)( : [^:;\n]+)?$/,
  /^\s*[^:\s\-{]+ : [^:;\n]+$/,
  /^\s*[^:\s\-{]+$/,
  /^\s*state [^:\s\-{]+ \{$/,
  /^\s*state "[^"]*" as [^:\s\-{]+$/,
  /^\s*\}$/,
  /^\s*classDef \w+ [^\n]+$/,
  /^\s*class \w+(,\w+)* \w+$/,
];
const invalidMermaid = (text: string) =>
  text
    .trimEnd()
    .split('\n')
    .filter((l) => !MERMAID_LINE.some((re) => re.test(l)));

const NESTED = `
id: nested
channels: [ussd]
machine:
  initial: menu
  states:
    menu:
      meta:
        prompt: menu.title
        options:
          - { key: "1", label: menu.balance, event: BALANCE }
          - { key: "2", label: menu.help, event: HELP }
      on: { BALANCE: account, HELP: help }
    help: { type: final, meta: { prompt: help.text } }
    account:
      initial: loading
      states:
        loading:
          invoke: { src: fetchBalances, onDone: { target: show, actions: rememberBalances }, onError: "#nested.help" }
        show: { type: final, meta: { prompt: balance.title, list: { items: balances, item: balance.line } } }
`;

describe('kiunga graph', () => {
  it('should draw the banking flow as Mermaid with the prompts of the chosen locale', async () => {
    const r = await run('graph', ['banking', '--lang', 'fr']);
    expect(r.code).toBe(0);
    expect(r.out.startsWith('stateDiagram-v2\n')).toBe(true);
    expect(r.out).toContain('  [*] --> identify');
    expect(r.out).toContain('  pin : Bienvenue ‹name›. Entrez votre code PIN∶');
    expect(r.out).toContain('  identify --> signupStarting : findCustomer ✗ [unregistered]');
    expect(r.out).toContain('  checkingPin --> pinRetry : verifyPin ✗ [pin-wrong]');
    expect(r.out).toContain('  menu --> balance : 1 Solde');
    expect(r.out).toContain('  menu --> sendTo : 3 ');
    expect(r.out).toMatch(/ {2}language --> menu : 1 English \/ 2 Kiswahili \/ 3 Francais/);
    expect(r.out).toContain('  showBalance --> [*]');
    expect(r.out).toMatch(/ {2}class .*\bmenu\b.* screen/);
    expect(invalidMermaid(r.out)).toEqual([]);
  });

  it('should draw nested states, #id targets and lists, in valid Mermaid', () => {
    const flow = parseFlowSource('nested.yaml', NESTED).flow!;
    const text = toMermaid(flow, fixtureTr, 'en');
    expect(text).toContain(
      '  state account {\n    [*] --> account__loading\n    state "loading" as account__loading\n    account__loading : calls fetchBalances',
    );
    expect(text).toContain(
      '    state "show" as account__show\n    account__show : Balance\n    account__show : + rows∶ ‹account›∶ ‹amount›\n    account__show --> [*]\n  }',
    );
    expect(text).toContain('  %% nested (prompts: en)');
    expect(text).toContain('  menu --> account : 1 Balance');
    expect(text).toContain('  account__loading --> help : fetchBalances ✗');
    expect(invalidMermaid(text)).toEqual([]);
    const dot = toDot(flow, fixtureTr, 'en');
    expect(dot).toContain('subgraph "cluster_account" {');
    expect(dot).toContain('"menu" -> "account__loading" [label="1 Balance"];');
  });

  it('should write Graphviz DOT, and SVG only through an installed dot', async () => {
    const r = await run('graph', ['banking', '--format', 'dot', '--out', join(tmp, 'banking.dot')]);
    expect(r.code).toBe(0);
    const dot = await readFile(join(tmp, 'banking.dot'), 'utf8');
    expect(dot).toMatch(/^digraph "banking" \{/);
    expect(dot).toContain('"pin" -> "checkingPin" [label="PIN"];');
    expect(() => toSvg(dot, join(tmp, 'no-such-dot'))).toThrow(GraphvizMissing);
    const fake = join(tmp, 'dot');
    await writeFile(fake, '#!/bin/sh\n[ "$1" = "-Tsvg" ] || exit 3\nprintf "<svg><!-- %s bytes --></svg>" "$(wc -c)"\n');
    await chmod(fake, 0o755);
    expect(toSvg(dot, fake)).toBe(`<svg><!-- ${Buffer.byteLength(dot)} bytes --></svg>`);
  });

  it('should name the flows it knows when asked for another, and refuse bad options', async () => {
    const missing = await run('graph', ['bankin']);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/no flow 'bankin' in flows \(flows: (\w+, )*banking(, \w+)*\)/);
    expect((await run('graph', ['banking', '--format', 'png'])).code).toBe(2);
    expect((await run('graph', ['banking', '--lang', 'de'])).err).toContain("no locale 'de' (locales: en, fr, sw)");
  });
});

describe('kiunga schema', () => {
  it('should write a JSON Schema that accepts the shipped flow and refuses a typo', async () => {
    const r = await run('schema', [join(tmp, 'flow.schema.json')]);
    expect(r.code).toBe(0);
    const schema = JSON.parse(await readFile(join(tmp, 'flow.schema.json'), 'utf8')) as Record<string, unknown>;
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(schema.title).toBe('Kiunga flow');
    // The recursive state definition is named and referenced from machine.states and from every nested `states`.
    const state = (schema.$defs as Record<string, { properties: Record<string, { description?: string; additionalProperties?: unknown }> }>)
      .state!;
    expect(state.properties.states!.additionalProperties).toEqual({ $ref: '#/$defs/state' });
    expect(state.properties.meta!.description).toMatch(/The screen of this state/);
    expect(JSON.stringify(schema)).not.toContain('__schema');
    // Read back as a validator: the shipped flow passes, a misspelt key and a lowercase event do not.
    const validator = z.fromJSONSchema(schema as never);
    const banking = parse(readFileSync('flows/banking.yaml', 'utf8'));
    expect(validator.safeParse(banking).success).toBe(true);
    expect(validator.safeParse(parse(NESTED)).success).toBe(true);
    const typo = structuredClone(banking);
    typo.machine.states.balance.invoke.onEror = 'unavailable';
    expect(validator.safeParse(typo).success).toBe(false);
    const lower = structuredClone(banking);
    lower.machine.states.menu.on = { balance: 'balance' };
    expect(validator.safeParse(lower).success).toBe(false);
  });

  it('should close the names a flow may use: error codes, params, flags, lists and actors from the manifests', () => {
    const validator = z.fromJSONSchema(flowJsonSchema() as never);
    const banking = parse(readFileSync('flows/banking.yaml', 'utf8'));
    const edited = (edit: (flow: typeof banking) => void) => {
      const flow = structuredClone(banking);
      edit(flow);
      return validator.safeParse(flow).success;
    };
    expect(edited(() => undefined)).toBe(true);
    expect(edited((f) => (f.machine.states.identify.invoke.onError[0].guard.params.code = 'unregisterd'))).toBe(false);
    expect(edited((f) => (f.machine.states.identify.invoke.onError[0].guard.params.code = 404))).toBe(false);
    expect(edited((f) => (f.machine.states.identify.invoke.onError[0].guard = 'errorIs'))).toBe(false);
    expect(edited((f) => (f.machine.states.menu.meta.options[2].if = 'hasLaon'))).toBe(false);
    expect(edited((f) => (f.machine.states.balance.invoke.src = 'fetchBalance'))).toBe(false);
    expect(edited((f) => (f.machine.states.menu.on.SEND[0].actions.params.purpose = 'sned'))).toBe(false);
  });

  it('should print the schema on standard output without a file', async () => {
    const r = await run('schema', []);
    expect(JSON.parse(r.out)).toEqual(flowJsonSchema());
  });
});
