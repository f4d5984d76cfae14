import { readdir, readFile } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import { isNode, LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { FLOW_ERROR_CODES } from '../engine/registry.js';
import { FAIL_MODES } from '../sandbox/control.js';

/**
 * The conversation test files of `kiunga test` (conversation-tests.ts runs them): `flows/<flow>.test.yaml`, a
 * list of cases, each a customer's hops with what the screen must show; their schema, and reading them with
 * each problem's file and line.
 */

const sandboxSchema = z.strictObject({
  /** `500` makes every Fineract call fail; `reset` drops the connection; `none` heals. */
  failMode: z.enum(FAIL_MODES).optional(),
  latencyMs: z.number().int().min(0).max(60_000).optional(),
  /** Fineract permission codes answered with 403, e.g. READ_SAVINGSACCOUNT. */
  deniedPermissions: z.array(z.string().regex(/^[A-Z_]+$/)).optional(),
});

const stubSchema = z.union([
  z.strictObject({ reject: z.enum(FLOW_ERROR_CODES), details: z.record(z.string(), z.union([z.string(), z.number()])).optional() }),
  z.strictObject({ resolve: z.unknown() }),
]);

const hopSchema = z.strictObject({
  /**
   * What the customer sends; `null` dials (the first hop; later, a new session: the customer dials again).
   * `{{code}}` sends the last one-time code the sandbox outbox holds for the customer (the code by SMS).
   */
  send: z.union([z.string().min(1).max(182), z.null()]),
  /** Texts the screen must contain. */
  expect: z.array(z.string().min(1)).default([]),
  /** Texts the screen must not contain. */
  absent: z.array(z.string().min(1)).optional(),
  /** The session ends with this screen (END); default false (CON). */
  end: z.boolean().default(false),
  /** The state the flow rests in after this hop, e.g. `menu`. */
  state: z.string().optional(),
  /** Sandbox behaviour from this hop on. */
  sandbox: sandboxSchema.optional(),
});

const caseSchema = z.strictObject({
  name: z.string().min(1),
  /** `sms`: every hop is one inbound message, its own short session (as the SMS routes run them). */
  channel: z.enum(['ussd', 'sms']).default('ussd'),
  /** The language the customer chose earlier (default: DEFAULT_LANGUAGE). */
  lang: z
    .string()
    .regex(/^[a-z]{2}$/)
    .optional(),
  msisdn: z.string().regex(/^\+\d{7,15}$/, 'must be an E.164 number like +254711000001'),
  /** Sandbox behaviour from the dial on. */
  sandbox: sandboxSchema.optional(),
  /**
   * Named actors replaced for this case, for outcomes the sandbox cannot produce:
   * `{ findCustomer: { reject: inactive } }` or `{ fetchBalances: { resolve: [] } }`.
   */
  stubs: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), stubSchema).optional(),
  hops: z.array(hopSchema).min(1),
});

export const testFileSchema = z.array(caseSchema).min(1);
export type ConversationCase = z.infer<typeof caseSchema>;
export type ConversationHop = z.infer<typeof hopSchema>;

export interface TestFile {
  file: string;
  flowId: string;
  cases: ConversationCase[];
  /** Line of case n in the file. */
  lines: number[];
}

/** The test files of `flowsDir` that parse and hold together, and the problems (file and line) of the others. */
export async function readTestFiles(flowsDir: string): Promise<{ files: TestFile[]; problems: string[] }> {
  const names = (await readdir(flowsDir)).filter((n) => /\.test\.ya?ml$/.test(n)).sort();
  const files: TestFile[] = [];
  const problems: string[] = [];
  for (const name of names) {
    const path = join(flowsDir, name);
    const file = relative(process.cwd(), path) || name;
    const lineCounter = new LineCounter();
    const doc = parseDocument(await readFile(path, 'utf8'), { lineCounter, prettyErrors: false, uniqueKeys: true });
    if (doc.errors.length > 0) {
      for (const e of doc.errors) problems.push(`${file}:${lineCounter.linePos(e.pos[0]).line}: syntax error: ${e.message.split('\n')[0]}`);
      continue;
    }
    const lineOf = (path: (string | number)[]) => {
      for (let n = path.length; n >= 0; n--) {
        const node = doc.getIn(path.slice(0, n), true);
        if (isNode(node) && node.range) return lineCounter.linePos(node.range[0]).line;
      }
      return undefined;
    };
    const parsed = testFileSchema.safeParse(doc.toJS());
    if (!parsed.success) {
      for (const i of parsed.error.issues) {
        const p = i.path.map((x) => (typeof x === 'symbol' ? String(x) : x));
        problems.push(`${file}:${lineOf(p) ?? 1} ${p.join('.')}: ${i.message}`);
      }
      continue;
    }
    let ok = true;
    parsed.data.forEach((c, i) => {
      c.hops.forEach((h, j) => {
        if (c.channel === 'sms') {
          // Every SMS is its own session: each hop sends a message, and each may end.
          if (h.send === null) {
            problems.push(`${file}:${lineOf([i, 'hops', j, 'send'])} ${i}.hops.${j}.send: an SMS hop sends a message (no dialing)`);
            ok = false;
          }
          return;
        }
        if (j === 0 && h.send !== null) {
          problems.push(`${file}:${lineOf([i, 'hops', j, 'send'])} ${i}.hops.${j}.send: the first hop must dial (send: null)`);
          ok = false;
        }
        // A later dial is a new session (the customer dials again), so an END may come before it.
        if (h.end && j < c.hops.length - 1 && c.hops[j + 1]!.send !== null) {
          problems.push(
            `${file}:${lineOf([i, 'hops', j, 'end'])} ${i}.hops.${j}.end: the session ends here, but more hops follow (dial again with send: null)`,
          );
          ok = false;
        }
      });
    });
    if (ok) {
      files.push({
        file,
        flowId: basename(name).replace(/\.test\.ya?ml$/, ''),
        cases: parsed.data,
        lines: parsed.data.map((_, i) => lineOf([i]) ?? 1),
      });
    }
  }
  return { files, problems };
}
