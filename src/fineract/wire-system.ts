import { z } from 'zod';
import { localDate } from './wire-common.js';

/** Fineract's system-wide settings Kiunga reads: global configuration and the business date (docs/fineract.md §12). */

/** `GET /configurations/name/{name}` (GlobalConfigurationPropertyData): only whether it is on. */
export const GlobalConfigurationProperty = z.object({ name: z.string().optional(), enabled: z.boolean() });

/** `GET /businessdate/{type}` (BusinessDateData): `date` is a LocalDate (Gson `[y, m, d]`). */
export const BusinessDateData = z.object({ type: z.string().optional(), date: localDate });
