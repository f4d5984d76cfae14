import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';

/**
 * The agent fee schedule (issue 11): data in `flows/fees/agent-fees.yaml` (a folder of its own, so the flow
 * loaders never read it as a flow), checked with this schema at start and by `kiunga lint`.
 *
 * Exactly once: Fineract's account transfer is one leg, so the fee travels in the same transfer as the cash. A
 * cash-out moves the cash plus the fee from the customer's savings to the agent's float, under the approval's
 * one idempotency key; the agent keeps the fee as commission (the institution's share, if any, is settled with
 * its agents outside Kiunga). The approval holds cash + fee from the start, so it never fails for the fee.
 * Cash-in is free.
 */

const band = z
  .object({
    /** Smallest and largest cash amount of the band, in minor units, both included. */
    from: z.number().int().min(0),
    to: z.number().int().min(0),
    /** The fee for any amount of the band, in minor units. */
    fee: z.number().int().min(0),
  })
  .strict()
  .refine((b) => b.from <= b.to, { message: 'from must not be above to' });

export const FeeScheduleSchema = z
  .object({
    currency: z.string().regex(/^[A-Z]{3}$/, 'a 3-letter currency code'),
    cashOut: z.array(band).min(1),
  })
  .strict()
  .superRefine((s, ctx) => {
    s.cashOut.forEach((b, i) => {
      const before = s.cashOut[i - 1];
      if (before && b.from !== before.to + 1)
        ctx.addIssue({
          code: 'custom',
          path: ['cashOut', i, 'from'],
          message: `bands must follow each other without gap or overlap: this one should start at ${before.to + 1}`,
        });
    });
  });

export type FeeSchedule = z.infer<typeof FeeScheduleSchema>;

/** Where the schedule lives under FLOWS_DIR. */
export const FEE_FILE = join('fees', 'agent-fees.yaml');

export interface FeeFileProblem {
  line?: number;
  path: string;
  message: string;
}

/** Parses and checks the schedule's text: the schedule, or its problems with their lines. */
export function parseFeeSchedule(source: string): { schedule?: FeeSchedule; problems: FeeFileProblem[] } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(source, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0)
    return { problems: doc.errors.map((e) => ({ line: lineCounter.linePos(e.pos[0]).line, path: '', message: e.message })) };
  const parsed = FeeScheduleSchema.safeParse(doc.toJS());
  if (parsed.success) return { schedule: parsed.data, problems: [] };
  return {
    problems: parsed.error.issues.map((issue) => {
      const node = doc.getIn(issue.path as (string | number)[], true) as { range?: [number, number] } | undefined;
      const at = node?.range ? lineCounter.linePos(node.range[0]).line : undefined;
      return { ...(at ? { line: at } : {}), path: issue.path.join('.'), message: issue.message };
    }),
  };
}

/** Reads `<flowsDir>/fees/agent-fees.yaml`: undefined when there is none (no fees); throws on a bad one. */
export function loadFeeSchedule(flowsDir: string): FeeSchedule | undefined {
  const path = join(flowsDir, FEE_FILE);
  if (!existsSync(path)) return undefined;
  const { schedule, problems } = parseFeeSchedule(readFileSync(path, 'utf8'));
  if (!schedule) {
    const first = problems[0];
    throw new Error(`${path}${first?.line ? `:${first.line}` : ''}: ${first?.path ? `${first.path}: ` : ''}${first?.message ?? 'invalid'}`);
  }
  return schedule;
}

/** The cash-out fee of an amount (minor units): its band's, or 0 outside every band. */
export function cashOutFee(schedule: FeeSchedule | undefined, cents: number): number {
  return schedule?.cashOut.find((b) => cents >= b.from && cents <= b.to)?.fee ?? 0;
}
