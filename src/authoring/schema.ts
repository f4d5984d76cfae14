import { z } from 'zod';
import { flowFileSchema } from '../engine/flow-schema.js';
import { FLOW_MANIFESTS } from '../engine/registry.js';
import type { Manifest, ManifestSet } from '../engine/manifest.js';

/**
 * The JSON Schema of the flow format, generated from the loader's own zod schema (so the two cannot drift),
 * for completion and checking in editors: VS Code with the YAML extension, IntelliJ, Neovim's yaml-ls.
 * The recursive state schema becomes `$defs.state`, referenced from `machine.states` and from every `states`.
 */

/** Help shown by editors on hover; keyed by property name inside the given parent. */
const HELP: Record<string, Record<string, string>> = {
  root: {
    id: 'Flow id (letters, digits, `_`), unique in the flows directory.',
    channels: 'Channels this flow serves; lint checks the screen budget of `ussd` (and `sms`: two segments).',
    serviceCodes:
      'USSD service codes this flow answers (e.g. `*384*5#`); a flow without them answers the codes of its channels that no other flow names.',
    home: 'The state `00` returns to, once the customer has reached it.',
    machine: 'An XState v5 machine config: plain data, no code.',
  },
  state: {
    meta: 'The screen of this state: a prompt (an i18n key), and options, input, a list or numbered choices.',
    invoke: 'Calls a named actor (src); onDone and onError say where to go next.',
    on: 'Events this state handles: menu option events, and INPUT for typed input.',
    type: '`final` ends the session.',
    always: 'Eventless transitions, taken as soon as their guard holds.',
  },
  meta: {
    prompt: 'i18n key of the text shown, e.g. menu.title (locales/<lang>.json).',
    input: 'Free input this screen takes; it arrives as { type: INPUT, value }.',
    options: 'Menu options: the key pressed, its label (an i18n key) and the event sent.',
    list: 'Rows shown under the prompt (as many whole rows as fit), from a view list.',
    choose: 'Numbered choices built from a view list: key n sends { type: event, index: n - 1 }.',
    checkpoint: 'Entering this screen forgets the back history (e.g. after money moved).',
  },
};

type Json = Record<string, unknown>;

export function flowJsonSchema(): Json {
  const raw = z.toJSONSchema(flowFileSchema, { target: 'draft-2020-12', cycles: 'ref', unrepresentable: 'any' }) as Json;
  // Give the recursive state definition a readable name.
  const defs = (raw.$defs ?? {}) as Record<string, Json>;
  const renames = new Map<string, string>();
  for (const [name, def] of Object.entries(defs)) {
    const props = (def.properties ?? {}) as Json;
    if ('invoke' in props && 'states' in props) renames.set(name, 'state');
  }
  let text = JSON.stringify(raw);
  for (const [from, to] of renames) text = text.split(`"#/$defs/${from}"`).join(`"#/$defs/${to}"`);
  const schema = JSON.parse(text) as Json;
  if (schema.$defs) {
    schema.$defs = Object.fromEntries(Object.entries(schema.$defs as Json).map(([k, v]) => [renames.get(k) ?? k, v]));
  }
  describe(schema, HELP.root!);
  closeNames(schema, FLOW_MANIFESTS);
  const state = (schema.$defs as Record<string, Json> | undefined)?.state;
  if (state) {
    describe(state, HELP.state!);
    const meta = (state.properties as Record<string, Json>).meta;
    if (meta) describe(meta, HELP.meta!);
  }
  return {
    $schema: schema.$schema,
    $id: 'https://kiunga.dev/schema/flow.json',
    title: 'Kiunga flow',
    description: 'A Kiunga flow file (flows/*.yaml): an XState v5 machine config plus screen metadata. See docs/flows.md.',
    ...schema,
  };
}

function describe(node: Json, help: Record<string, string>): void {
  const props = node.properties as Record<string, Json> | undefined;
  if (!props) return;
  for (const [key, text] of Object.entries(help)) if (props[key]) props[key] = { description: text, ...props[key] };
}

/**
 * The names a flow may use, from the registry's manifests: action, guard and actor names with their params
 * (an `errorIs` code is one of the error codes), and the `if:` flags and view lists actions set. Editors then
 * complete them and flag a misspelt one as the loader would.
 */
function closeNames(schema: Json, manifests: ManifestSet): void {
  const refOf = (names: Readonly<Record<string, Manifest>>): Json => ({
    anyOf: Object.entries(names).flatMap(([name, m]): Json[] => {
      const params = m.params ? (z.toJSONSchema(m.params, { target: 'draft-2020-12' }) as Json) : undefined;
      if (params) delete params.$schema;
      const object: Json = {
        type: 'object',
        description: m.description,
        properties: { type: { const: name }, ...(params ? { params } : {}) },
        required: params ? ['type', 'params'] : ['type'],
        additionalProperties: false,
      };
      return params ? [object] : [{ const: name, description: m.description }, object];
    }),
  });
  const action = refOf(manifests.actions);
  const actions: Json = { anyOf: [action, { type: 'array', items: action }] };
  const guard = refOf(manifests.guards);
  const names = (field: 'flags' | 'lists') =>
    [...new Set(Object.values(manifests.actions).flatMap((m) => Object.keys(m[field] ?? {})))].sort();
  const replacements: Record<string, Json> = {
    guard,
    actions,
    entry: actions,
    exit: actions,
    src: { enum: Object.keys(manifests.actors).sort(), description: 'a named actor (src/engine/registry*.ts)' },
    if: { enum: names('flags'), description: 'a flag an action of the flow sets (e.g. rememberAccounts sets hasLoan)' },
    items: { enum: names('lists'), description: 'a view list an action of the flow sets (e.g. rememberBalances sets balances)' },
  };
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (!node || typeof node !== 'object') return;
    const props = (node as Json).properties as Json | undefined;
    if (props && typeof props === 'object') {
      for (const [key, replacement] of Object.entries(replacements)) {
        if (key in props)
          props[key] = { ...replacement, ...((props[key] as Json).description ? { description: (props[key] as Json).description } : {}) };
      }
    }
    for (const value of Object.values(node)) walk(value);
  };
  walk(schema);
}
