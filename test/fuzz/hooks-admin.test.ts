import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import {
  CONTENT_TYPES,
  DEFAULT_RUNS,
  digits,
  expectPolite,
  FUZZ_TIMEOUT_MS,
  junk,
  runsOf,
  send,
  Tally,
  type Envelope,
} from './fuzz-kit.js';

/**
 * Fuzzing of the JSON routes (issue 13, item 4): the Fineract hook route (T20: the secret in the path, the
 * payload only a hint) and every operation of the admin API (T17), with random and malformed bodies, headers,
 * path parameters and queries, over real HTTP to the whole app with the built-in sandbox and a real Redis.
 * Property: 2xx or 4xx, never a 5xx, a dropped connection or a hang.
 */

const HOOK_SECRET = 'hook-secret-fuzz-0123456789abcdef';
const ADMIN = 'admin-token-fuzz-0123456789abcdef';
const HOOK_RUNS = Number(process.env.FUZZ_HOOK_RUNS ?? DEFAULT_RUNS.hooks);
const ADMIN_RUNS = Number(process.env.FUZZ_ADMIN_RUNS ?? DEFAULT_RUNS.admin);

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ FINERACT_HOOK_SECRET: HOOK_SECRET, ADMIN_TOKEN: ADMIN, ADMIN_RATE_PER_MIN: '100000' });
});
afterAll(async () => {
  await server?.close();
});

/** A JSON body: the given value, another random one, or bytes that are not JSON; mostly with the JSON type. */
function jsonEnvelope(value: fc.Arbitrary<unknown>): fc.Arbitrary<Envelope> {
  return fc.oneof(
    {
      weight: 10,
      arbitrary: value.map((v): Envelope => ({
        kind: 'json',
        contentType: 'application/json',
        body: Buffer.from(JSON.stringify(v) ?? ''),
      })),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(value, fc.constantFrom(...CONTENT_TYPES))
        .map(([v, contentType]): Envelope => ({ kind: 'odd-type', contentType, body: Buffer.from(JSON.stringify(v) ?? '') })),
    },
    {
      weight: 1,
      arbitrary: fc
        .oneof(
          fc.constantFrom('{', '{"a":', '[1,2', 'nul', '"\\ud800"', '{"__proto__":{"x":1}}', '\ufeff{}', '1e999999'),
          fc.string({ maxLength: 40 }),
        )
        .map((text): Envelope => ({ kind: 'bytes', contentType: 'application/json', body: Buffer.from(text) })),
    },
    {
      weight: 1,
      arbitrary: fc.uint8Array({ maxLength: 100 }).map((body): Envelope => ({ kind: 'bytes', contentType: 'application/json', body })),
    },
    {
      weight: 1,
      arbitrary: fc.integer({ min: 16 * 1024 + 1, max: 30 * 1024 }).map((n): Envelope => ({
        kind: 'too-large',
        contentType: 'application/json',
        body: Buffer.from(JSON.stringify({ x: 'x'.repeat(n) })),
      })),
    },
  );
}

/** A number-like JSON value: the right kind, or a string, float, negative, huge or null one. */
const idLike = fc.oneof(
  { weight: 10, arbitrary: fc.integer({ min: 1, max: 20 }) },
  { weight: 1, arbitrary: fc.constantFrom<unknown>('1', 1.5, -1, 0, 2 ** 53, 1e308, null, true, [], {}, '') },
);

describe('fuzzing the Fineract hook route', () => {
  it(
    'random hook deliveries get a 2xx or a 4xx, never a 5xx or a hang',
    async () => {
      const tally = new Tally();
      const event = fc.record({
        entity: fc.oneof(
          { weight: 4, arbitrary: fc.constantFrom('SAVINGSACCOUNT', 'savingsaccount', 'LOAN', 'CLIENT') },
          { weight: 1, arbitrary: junk },
        ),
        action: fc.oneof(
          { weight: 4, arbitrary: fc.constantFrom('DEPOSIT', 'WITHDRAWAL', 'deposit', 'APPROVE') },
          { weight: 1, arbitrary: junk },
        ),
        /** Where the event names itself: the payload, Fineract's headers, both, or the headers saying something else. */
        named: fc.constantFrom('payload', 'headers', 'both', 'both', 'disagree'),
        other: fc.string({ maxLength: 12 }),
      });
      const payload = fc.record(
        {
          status: fc.constantFrom('Exception', 'Success', 'exception'),
          clientId: idLike,
          officeId: idLike,
          response: fc.oneof(
            {
              weight: 4,
              arbitrary: fc.record(
                { clientId: idLike, savingsId: idLike, resourceId: idLike, changes: fc.jsonValue({ maxDepth: 1 }) },
                { requiredKeys: [] },
              ),
            },
            { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 1 }) },
          ),
          request: fc.jsonValue({ maxDepth: 1 }),
        },
        { requiredKeys: [] },
      );
      const request = fc
        .record({
          path: fc.oneof(
            {
              weight: 8,
              arbitrary: fc.constantFrom(
                `/hooks/fineract/${HOOK_SECRET}/`,
                `/hooks/fineract/${HOOK_SECRET}`,
                `/hooks/fineract?key=${HOOK_SECRET}`,
              ),
            },
            {
              weight: 1,
              arbitrary: fc.oneof(
                fc.constantFrom(
                  '/hooks/fineract/',
                  '/hooks/fineract',
                  '/hooks/fineract/%ZZ/',
                  `/hooks/fineract/${HOOK_SECRET}x/`,
                  `/hooks/fineract?key=${HOOK_SECRET}&key=x`,
                ),
                junk.map((s) => `/hooks/fineract/${encodeURIComponent(s)}/`),
              ),
            },
          ),
          event,
          body: fc.oneof({ weight: 6, arbitrary: payload }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) }),
          tenant: fc.option(fc.constantFrom('default', 'other', ''), { nil: undefined }),
        })
        .chain(({ path, event: e, body, tenant }) => {
          const inPayload = e.named !== 'headers' && body && typeof body === 'object' && !Array.isArray(body);
          const headers: Record<string, string> = {};
          if (e.named !== 'payload') {
            // A header carries printable ASCII only (fetch refuses the rest).
            const printable = (v: string) => v.replace(/[^\x20-\x7e]/g, '?');
            headers['x-fineract-entity'] = printable(e.named === 'disagree' ? e.other : e.entity);
            headers['x-fineract-action'] = printable(e.action);
          }
          if (tenant !== undefined) headers['fineract-platform-tenantid'] = tenant;
          const value = inPayload ? { entityName: e.entity, actionName: e.action, ...body } : body;
          return fc.record({ path: fc.constant(path), headers: fc.constant(headers), envelope: jsonEnvelope(fc.constant(value)) });
        });
      await fc.assert(
        fc.asyncProperty(request, async ({ path, envelope, headers }) => {
          const answer = await send(server.url, { target: path, envelope, headers });
          const what = `hook ${envelope.kind} ${path}`;
          expectPolite(answer, what);
          if (answer.status < 300) expect(JSON.parse(answer.body), what).toMatchObject({ status: expect.any(String) });
          tally.add(answer.status < 300 ? 'reached' : `refused ${answer.status}`);
        }),
        runsOf(HOOK_RUNS),
      );
      if (process.env.FUZZ_DEBUG) console.log(JSON.stringify([...tally.counts]));
      expect(tally.get('reached'), JSON.stringify([...tally.counts])).toBeGreaterThan(HOOK_RUNS * 0.2);
    },
    FUZZ_TIMEOUT_MS,
  );
});

/** The operation's path with its `{parameters}` replaced by `values`, in order. */
function pathWith(template: string, values: readonly string[]): string {
  let i = 0;
  return template.replace(/\{[^}]+\}/g, () => encodeURIComponent(values[i++] ?? '1'));
}

interface Operation {
  method: string;
  path: string;
  /** Names in the operation's request body (top level), when it has one. */
  fields?: string[];
  query: string[];
}

describe('fuzzing the admin API', () => {
  it(
    'random calls to every documented operation get a 2xx or a 4xx, never a 5xx or a hang',
    async () => {
      // The operations come from the served OpenAPI document, so a new route is fuzzed without editing this file.
      const doc = (await (await fetch(`${server.url}/admin/openapi.json`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as {
        paths: Record<
          string,
          Record<
            string,
            { requestBody?: { content: Record<string, { schema: { properties?: object } }> }; parameters?: { name: string; in: string }[] }
          >
        >;
      };
      const operations: Operation[] = Object.entries(doc.paths).flatMap(([path, ops]) =>
        Object.entries(ops).map(([method, op]) => ({
          method: method.toUpperCase(),
          path,
          fields: op.requestBody ? Object.keys(op.requestBody.content['application/json']?.schema.properties ?? {}) : undefined,
          query: (op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name),
        })),
      );
      expect(operations.length).toBeGreaterThan(20);
      const tally = new Tally();
      const param = fc.oneof(
        {
          weight: 3,
          arbitrary: fc.constantFrom('1', '2', '3', '4', '7', '000000001', '000000004', 'all', 'money', 'channel:ussd', 'flow:banking'),
        },
        { weight: 1, arbitrary: fc.oneof(digits(1, 20), junk) },
      );
      const value = fc.oneof(
        {
          weight: 2,
          arbitrary: fc.constantFrom<unknown>(
            '+254711000002',
            '0711000002',
            '5501',
            '000000003',
            'active',
            'suspended',
            true,
            false,
            1,
            2,
            [1, 2],
            'maintenance',
          ),
        },
        { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
        { weight: 1, arbitrary: junk },
      );
      const request = fc
        .record({ op: fc.constantFrom(...operations), params: fc.array(param, { minLength: 3, maxLength: 3 }) })
        .chain(({ op, params }) =>
          fc.record({
            op: fc.constant(op),
            path: fc.constant(pathWith(op.path, params)),
            query: fc.array(
              fc.tuple(fc.oneof(fc.constantFrom(...op.query, 'x'), fc.string({ maxLength: 6 })), fc.oneof(digits(0, 4), junk)),
              { maxLength: 3 },
            ),
            envelope: jsonEnvelope(
              op.fields
                ? fc.oneof(
                    {
                      weight: 5,
                      arbitrary: fc.dictionary(fc.constantFrom(...op.fields, 'extra'), value, { maxKeys: op.fields.length + 1 }),
                    },
                    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
                  )
                : fc.jsonValue({ maxDepth: 1 }),
            ),
            token: fc.oneof(
              { weight: 12, arbitrary: fc.constant(`Bearer ${ADMIN}`) },
              { weight: 1, arbitrary: fc.constantFrom('', `Bearer ${ADMIN}x`, ADMIN, 'Bearer', `Basic ${ADMIN}`) },
            ),
          }),
        );
      await fc.assert(
        fc.asyncProperty(request, async ({ op, path, query, envelope, token }) => {
          const qs = new URLSearchParams(query).toString();
          const target = `${path}${qs ? `?${qs}` : ''}`;
          const withBody = op.method !== 'GET' && op.method !== 'DELETE';
          const answer = await send(server.url, {
            target,
            method: op.method,
            envelope: withBody ? envelope : { kind: 'form', body: new Uint8Array() },
            headers: token ? { authorization: token } : {},
          });
          expectPolite(answer, `${op.method} ${target} ${envelope.kind}`);
          tally.add(answer.status < 300 ? 'reached' : `refused ${answer.status}`);
        }),
        runsOf(ADMIN_RUNS),
      );
      if (process.env.FUZZ_DEBUG) console.log(JSON.stringify([...tally.counts]));
      expect(tally.get('reached'), JSON.stringify([...tally.counts])).toBeGreaterThan(ADMIN_RUNS * 0.2);
    },
    FUZZ_TIMEOUT_MS,
  );
});
