import { z } from 'zod';
import { SETTINGS, type SettingName } from './settings.js';
import type { Setting } from './settings/schemas.js';
import { crossProblems } from './config/rules.js';
import { toConfig } from './config/to-config.js';
import type { Settings, Value } from './config/values.js';

export { SETTINGS, settingsMarkdown, withSettingsTable, type SettingName } from './settings.js';
export type { SettingValues, SimSwapProvider } from './config/values.js';
export { INSECURE_SETTINGS, unsafeSettings, type InsecureSetting } from './config/production-safety.js';
export type { Operator } from './config/operators.js';

/**
 * The one place that reads the environment: one zod schema over it (`configSchema`) validates every setting of
 * `settings.ts` and the rules between them, reports every problem at once, and its transform yields the frozen
 * configuration the rest of the code receives. `Config` is that transform's output type.
 *
 * Its parts live in `config/`: the parsed settings' types (`values.ts`), the rules between settings (`rules.ts`)
 * with the admin operators' checks (`operators.ts`) and the production-safety checks (`production-safety.ts`),
 * and the configuration built from valid settings (`to-config.ts`). Importers use this module.
 */

/** Thrown with every problem at once, each naming the variable. Never includes secret values. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/** Settings no longer read: setting one is a problem that names what replaces it. */
const RETIRED = {
  PIN_MAX_ATTEMPTS:
    'no longer read; locks are now time-boxed: set PIN_MAX_FAILURES (wrong PINs per lock), PIN_LOCK_S and PIN_HARD_LOCK_AFTER instead',
} as const;

/** Settings where an empty value means something ("every product") rather than "unset". */
const EMPTY_IS_A_VALUE: readonly SettingName[] = ['FINERACT_SAVINGS_PRODUCTS', 'FINERACT_LOAN_PRODUCTS'];

/**
 * One variable: unset takes the default, and so does empty for a setting without one (unless empty means
 * something); then the setting's own schema reads it.
 */
function settingSchema(name: SettingName): z.ZodType<unknown, string | undefined> {
  const setting: Setting = SETTINGS[name];
  const given = z.string().optional();
  if (setting.default !== undefined) {
    const fallback = setting.default;
    return given.transform((raw) => raw ?? fallback).pipe(setting.schema);
  }
  const keepEmpty = EMPTY_IS_A_VALUE.includes(name);
  return given.transform((raw) => (raw === '' && !keepEmpty ? undefined : raw)).pipe(setting.schema.optional());
}

const settingsShape = Object.fromEntries((Object.keys(SETTINGS) as SettingName[]).map((name) => [name, settingSchema(name)])) as {
  [K in SettingName]: z.ZodType<Value<Settings[K]>, string | undefined>;
};
const retiredShape = Object.fromEntries(
  Object.entries(RETIRED).map(([name, message]) => [name, z.undefined({ error: message }).optional()]),
) as {
  [K in keyof typeof RETIRED]: z.ZodOptional<z.ZodUndefined>;
};

/**
 * The environment in, the configuration out: each variable by its setting's schema, the rules between them
 * (`crossProblems`, run even when a variable is invalid), then the frozen configuration. Unknown variables are
 * ignored.
 */
export const configSchema = z
  .object({ ...settingsShape, ...retiredShape })
  .superRefine(crossProblems, { when: () => true })
  .transform((v) => deepFreeze(toConfig(v)));

/** The typed, frozen configuration the rest of the code receives. */
export type Config = z.output<typeof configSchema>;

/**
 * One line per problem: a variable's own problems joined on one line naming it, then the rules between
 * settings (their messages name the variables).
 */
function problemsOf(issues: readonly z.core.$ZodIssue[]): string[] {
  const byVariable = new Map<string, string[]>();
  const rules: string[] = [];
  for (const issue of issues) {
    const name = issue.path?.[0];
    if (typeof name !== 'string') rules.push(issue.message);
    else byVariable.set(name, [...(byVariable.get(name) ?? []), issue.message]);
  }
  return [...[...byVariable].map(([name, messages]) => `${name}: ${messages.join('; ')}`), ...rules];
}

/** Reads, validates and freezes the configuration; reports every problem at once. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) throw new ConfigError(problemsOf(parsed.error.issues));
  return parsed.data;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
