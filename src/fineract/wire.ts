/**
 * The parts of Fineract's JSON that Kiunga reads, checked at runtime (docs/fineract.md §2-5). Unknown keys are
 * dropped; absent keys are normal (Gson omits nulls). Nothing outside `src/fineract` sees these shapes.
 *
 * The schemas live by resource (`wire-clients.ts`, `wire-savings.ts`, `wire-loans.ts`, `wire-origination.ts`,
 * `wire-system.ts`, their shared building blocks in `wire-common.ts`); this module re-exports them so the
 * client imports them from one place.
 */

export { ACTIVE } from './wire-common.js';
export * from './wire-clients.js';
export * from './wire-savings.js';
export * from './wire-loans.js';
export * from './wire-origination.js';
export * from './wire-system.js';
