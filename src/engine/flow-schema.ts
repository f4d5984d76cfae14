import { z } from 'zod';

/**
 * The schema of a flow file: an XState v5 machine config (plain data, no code) plus screen metadata.
 * Unknown keys are refused so that a typo (`onDnoe`) is an error, not a silently ignored transition.
 */

const name = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be a plain name (letters, digits, _)');
const params = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]));

const namedRef = z.union([name, z.strictObject({ type: name, params: params.optional() })]);
const actions = z.union([namedRef, z.array(namedRef)]);

const transitionObject = z.strictObject({
  target: z.union([z.string().min(1), z.array(z.string().min(1))]).optional(),
  guard: namedRef.optional(),
  actions: actions.optional(),
  reenter: z.boolean().optional(),
  description: z.string().optional(),
});
const transition = z.union([z.string().min(1), transitionObject]);
const transitions = z.union([transition, z.array(transition)]);

const i18nKey = z.string().regex(/^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)+$/, 'must be an i18n key like menu.balance');

const option = z.strictObject({
  key: z.string().regex(/^[0-9*#]{1,3}$/, 'must be 1 to 3 keypad characters'),
  label: i18nKey,
  event: z.string().regex(/^[A-Z][A-Z0-9_]*$/, 'must be an UPPER_CASE event name'),
  params: params.optional(),
  if: name.optional(),
});

const eventName = z.string().regex(/^[A-Z][A-Z0-9_]*$/, 'must be an UPPER_CASE event name');

/** `BAL`, `MINI STATEMENT`: letters and digits, words separated by one space. */
const keywordWord = z
  .string()
  .regex(/^[\p{L}\p{N}]+( [\p{L}\p{N}]+)*$/u, 'must be letters and digits (words separated by one space)')
  .max(30);

/** `{ event: BALANCE, words: { en: [BAL], sw: [SALIO] }, args: [pin], usage: sms.usage.balance }` */
const keyword = z.strictObject({
  event: eventName,
  words: z
    .record(z.string().regex(/^[a-z]{2}$/, 'must be a language code like en'), z.array(keywordWord).min(1))
    .refine((w) => Object.keys(w).length > 0, 'needs the words of at least one language'),
  args: z
    .array(z.enum(['pin', 'lang', 'digits', 'amount', 'phone']))
    .max(4)
    .optional(),
  usage: i18nKey.optional(),
});

export const screenMetaSchema = z.strictObject({
  prompt: i18nKey.optional(),
  input: z.enum(['pin', 'code', 'digits', 'amount', 'phone', 'text']).optional(),
  options: z.array(option).min(1).optional(),
  list: z.strictObject({ items: name, item: i18nKey, empty: i18nKey.optional() }).optional(),
  choose: z
    .strictObject({ items: name, item: i18nKey, event: z.string().regex(/^[A-Z][A-Z0-9_]*$/, 'must be an UPPER_CASE event name') })
    .optional(),
  checkpoint: z.boolean().optional(),
  keywords: z.array(keyword).min(1).optional(),
  description: z.string().optional(),
});

const invoke = z.strictObject({
  src: name,
  id: name.optional(),
  onDone: transitions.optional(),
  onError: transitions.optional(),
});

export interface StateNodeConfig {
  id?: string;
  type?: 'atomic' | 'compound' | 'final';
  initial?: string;
  description?: string;
  meta?: z.infer<typeof screenMetaSchema>;
  tags?: string[];
  entry?: z.infer<typeof actions>;
  exit?: z.infer<typeof actions>;
  on?: Record<string, z.infer<typeof transitions>>;
  always?: z.infer<typeof transitions>;
  invoke?: z.infer<typeof invoke>;
  states?: Record<string, StateNodeConfig>;
}

export const stateNodeSchema: z.ZodType<StateNodeConfig> = z.lazy(() =>
  z.strictObject({
    id: name.optional(),
    type: z.enum(['atomic', 'compound', 'final']).optional(),
    initial: z.string().optional(),
    description: z.string().optional(),
    meta: screenMetaSchema.optional(),
    tags: z.array(z.string()).optional(),
    entry: actions.optional(),
    exit: actions.optional(),
    on: z.record(z.string().regex(/^[A-Z][A-Z0-9_]*$/, 'events are UPPER_CASE'), transitions).optional(),
    always: transitions.optional(),
    invoke: invoke.optional(),
    states: z.record(name, stateNodeSchema).optional(),
  }),
);

export const flowFileSchema = z.strictObject({
  id: name,
  description: z.string().optional(),
  channels: z.array(z.enum(['ussd', 'voice', 'sms'])).min(1),
  /**
   * USSD service codes this flow answers (`'*384*1#'`). Without it, the flow answers every code of its
   * channels that no other flow names (src/channels/flow-routing.ts).
   */
  serviceCodes: z
    .array(z.string().regex(/^[*#0-9]{1,32}$/, 'a USSD service code: digits, * and #'))
    .min(1)
    .optional(),
  /** The state `00` returns to, once the customer has reached it. */
  home: z.string().optional(),
  machine: z.strictObject({
    initial: z.string(),
    description: z.string().optional(),
    states: z.record(name, stateNodeSchema),
    on: z.record(z.string(), transitions).optional(),
  }),
});

export type FlowFile = z.infer<typeof flowFileSchema>;
export type TransitionConfig = z.infer<typeof transitions>;
export type ActionsConfig = z.infer<typeof actions>;
export type NamedRef = z.infer<typeof namedRef>;
