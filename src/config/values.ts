import type { z } from 'zod';
import type { SETTINGS, SettingName } from '../settings.js';
import type { Setting } from '../settings/schemas.js';

/** The parsed settings, as the rules between them and the configuration read them. */

/** The settings' declarations (settings.ts), by name. */
export type Settings = typeof SETTINGS;
/** A setting's parsed value: always there when it has a default. */
export type Value<S extends Setting> = S extends { default: string } ? z.output<S['schema']> : z.output<S['schema']> | undefined;
/** Every setting, parsed. */
export type SettingValues = { [K in SettingName]: Value<Settings[K]> };

export type SimSwapProvider = NonNullable<SettingValues['SIM_SWAP_PROVIDER']>;

/** SIM_SWAP_PROVIDER; unset: none against a real Fineract (FINERACT_URL), the sandbox's list without one. */
export const simSwapProviderOf = (v: { FINERACT_URL?: string; SIM_SWAP_PROVIDER?: SimSwapProvider }): SimSwapProvider =>
  v.SIM_SWAP_PROVIDER ?? (v.FINERACT_URL ? 'none' : 'sandbox');
