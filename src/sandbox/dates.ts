/**
 * Calendar arithmetic on ISO `yyyy-mm-dd` strings (UTC, no time of day). The sandbox stores every
 * LocalDate this way and converts to Fineract's `[y, m, d]` only when serialising.
 */

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

export function isIsoDate(value: string): boolean {
  const m = ISO_DATE.exec(value);
  if (!m) return false;
  const d = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === value;
}

function parse(iso: string): Date {
  if (!isIsoDate(iso)) throw new Error(`not an ISO date: ${iso}`);
  return new Date(`${iso}T00:00:00Z`);
}

const format = (d: Date): string => d.toISOString().slice(0, 10);

export function addDays(iso: string, days: number): string {
  const d = parse(iso);
  d.setUTCDate(d.getUTCDate() + days);
  return format(d);
}

/** Adds calendar months, clamping to the end of the month (Jan 31 + 1 month = Feb 28/29), like java.time. */
export function addMonths(iso: string, months: number): string {
  const d = parse(iso);
  const day = d.getUTCDate();
  d.setUTCDate(1);
  d.setUTCMonth(d.getUTCMonth() + months);
  const lastDay = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate();
  d.setUTCDate(Math.min(day, lastDay));
  return format(d);
}

export function daysBetween(fromIso: string, toIso: string): number {
  return Math.round((parse(toIso).getTime() - parse(fromIso).getTime()) / 86_400_000);
}

/** Today's date in a fixed UTC offset (the demo tenant runs on Africa/Nairobi, UTC+3, no DST). */
export function todayAt(utcOffsetMinutes: number, now = Date.now()): string {
  return format(new Date(now + utcOffsetMinutes * 60_000));
}

/** `[2024, 1, 31]`, the Gson rendering of a java.time.LocalDate. */
export function toLocalDateArray(iso: string): [number, number, number] {
  const d = parse(iso);
  return [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate()];
}
