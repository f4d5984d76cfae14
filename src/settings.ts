import type { Setting } from './settings/schemas.js';
import { SERVER_SETTINGS } from './settings/server.js';
import { FINERACT_SETTINGS } from './settings/fineract.js';
import { MONEY_SETTINGS } from './settings/money.js';
import { CHANNEL_SETTINGS } from './settings/channels.js';
import { ACCESS_SETTINGS } from './settings/access.js';
import { BUSINESS_SETTINGS } from './settings/business.js';
import { ABUSE_SETTINGS } from './settings/abuse.js';
import { AUDIT_SETTINGS } from './settings/audit.js';
import { RUNTIME_SETTINGS } from './settings/runtime.js';

/**
 * Every setting Kiunga reads: its schema, default and help text, one file of src/settings/ per area, in the
 * order the README lists them. `config.ts` reads the environment with them; the README's settings table is
 * printed from them (`kiunga config --readme`), so the two cannot drift.
 */
export const SETTINGS = {
  ...SERVER_SETTINGS,
  ...FINERACT_SETTINGS,
  ...MONEY_SETTINGS,
  ...CHANNEL_SETTINGS,
  ...ACCESS_SETTINGS,
  ...BUSINESS_SETTINGS,
  ...ABUSE_SETTINGS,
  ...AUDIT_SETTINGS,
  ...RUNTIME_SETTINGS,
} satisfies Record<string, Setting>;

export type SettingName = keyof typeof SETTINGS;

/** The README's settings table, generated from SETTINGS. */
export function settingsMarkdown(): string {
  const rows = (Object.entries(SETTINGS) as [string, Setting][]).map(
    ([name, s]) =>
      `| \`${name}\` | ${s.default === undefined ? '(unset)' : s.default === '' ? '(empty)' : `\`${s.default}\``} | ${s.help} |`,
  );
  return ['| setting | default | meaning |', '|---|---|---|', ...rows].join('\n');
}

const START = '<!-- settings:start -->';
const END = '<!-- settings:end -->';

/** Replaces the settings block of a README text with the current table. */
export function withSettingsTable(readme: string): string {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error(`README has no ${START} ... ${END} block`);
  return `${readme.slice(0, start + START.length)}\n${settingsMarkdown()}\n${readme.slice(end)}`;
}
