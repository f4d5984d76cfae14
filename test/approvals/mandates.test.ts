/**
 * Mandates (issue 11, threat T15): what cannot be satisfied is refused, the sandbox's Duma Traders mandate, the
 * admin routes over real HTTP (PUT, GET, refusals, audit), the approvals list and an operator's cancel, and the
 * re-check that fails an approval raised under an older mandate.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approvalView } from '../../src/admin/mandate-routes.js';
import type { ApprovalRecord } from '../../src/approvals/approval.js';
import { mandateProblem, ruleFor, type MandateInput } from '../../src/approvals/mandates.js';
import { DEMO_SAVINGS } from '../../src/sandbox/index.js';
import type { TransferIntent } from '../../src/money/transfer-types.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const ALICE = 'alice-token-for-mandate-tests-0123456789';
const DUMA_NO = '000000004';
const base: MandateInput = { clientId: 4, initiators: [1], approvers: [2], rules: [{ minCents: 0, required: 1 }] };

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ ADMIN_TOKENS: `alice:${ALICE}` });
});
afterAll(async () => {
  await server?.close();
});

/** Amina, an initiator of Duma Traders' mandate, pays Baraka from the business account. */
const dumaPaysBaraka = (amountCents: number, id = 'x', ref = 'x'): TransferIntent => ({
  id,
  ref,
  kind: 'send',
  msisdn: '+254711000001',
  lang: 'en',
  from: { clientId: 4, officeId: 1, accountId: DEMO_SAVINGS.duma.id },
  to: { clientId: 2, officeId: 1, accountId: DEMO_SAVINGS.baraka.id, type: 'savings' },
  amountCents,
  currency: 'KES',
  counterparty: 'Baraka O.',
});
const admin = (method: string, path: string, body?: unknown) =>
  fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${ALICE}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  }).then(async (r) => ({ status: r.status, json: (await r.json()) as Record<string, unknown> }));

async function auditOf(type: string) {
  await server.services.audit.flush();
  const out: { actor?: string; data?: Record<string, unknown> }[] = [];
  for await (const record of server.services.audit.entries()) {
    const entry = record.entry as { type?: string; actor?: string; data?: Record<string, unknown> };
    if (entry.type === type) out.push(entry);
  }
  return out;
}

describe('mandateProblem', () => {
  it('accepts the demo mandate and bands from 0 up with the last one open', () => {
    expect(mandateProblem(base)).toBeUndefined();
    const banded = {
      ...base,
      approvers: [2, 3],
      rules: [
        { minCents: 0, maxCents: 100_000_00, required: 1 },
        { minCents: 100_000_01, required: 2 },
      ],
    };
    expect(mandateProblem(banded)).toBeUndefined();
    expect(ruleFor(banded, 100_000_00).required).toBe(1);
    expect(ruleFor(banded, 100_000_01).required).toBe(2);
  });

  it('refuses an initiator who would be the sole approver', () => {
    expect(mandateProblem({ ...base, initiators: [2] })).toMatch(/sole approver/);
  });

  it('refuses a band needing more approvers than remain once the requester is left out', () => {
    expect(mandateProblem({ ...base, approvers: [1, 2], rules: [{ minCents: 0, required: 2 }] })).toMatch(/needs 2 approvals/);
    // The owner may dial too: owner 4 as an approver leaves the owner's own payments one approver short.
    expect(mandateProblem({ ...base, approvers: [2, 4], rules: [{ minCents: 0, required: 2 }] })).toMatch(/needs 2 approvals/);
  });

  it('refuses overlapping or gapped bands, a band from above 0, a closed last band', () => {
    const rules = (r: MandateInput['rules']) => mandateProblem({ ...base, approvers: [2, 3], rules: r });
    expect(
      rules([
        { minCents: 0, maxCents: 100, required: 1 },
        { minCents: 100, required: 1 },
      ]),
    ).toBe('bands overlap');
    expect(
      rules([
        { minCents: 0, maxCents: 100, required: 1 },
        { minCents: 200, required: 1 },
      ]),
    ).toBe('bands leave a gap');
    expect(rules([{ minCents: 1, required: 1 }])).toMatch(/start at 0/);
    expect(rules([{ minCents: 0, maxCents: 100, required: 1 }])).toMatch(/last band must be open/);
    expect(mandateProblem({ ...base, rules: [] })).toMatch(/at least one rule/);
  });
});

describe('mandates over the admin API', () => {
  it('serves the sandbox demo mandate of Duma Traders', async () => {
    const res = await admin('GET', `/admin/mandates/${DUMA_NO}`);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      accountNo: DUMA_NO,
      accountId: DEMO_SAVINGS.duma.id,
      clientId: 4,
      name: 'Duma Traders Ltd',
      initiators: [1],
      approvers: [2],
      rules: [{ minCents: 0, required: 1 }],
      expiryS: 86_400,
    });
    expect((await admin('GET', '/admin/mandates/000000999')).status).toBe(404);
  });

  it('writes the next version, audited with the operator, and refuses what cannot be satisfied', async () => {
    const before = (await admin('GET', `/admin/mandates/${DUMA_NO}`)).json.version as number;
    const put = await admin('PUT', `/admin/mandates/${DUMA_NO}`, { ...base, expiryS: 7200 });
    expect(put).toMatchObject({ status: 200, json: { version: before + 1, expiryS: 7200 } });
    expect((await auditOf('mandate.changed')).at(-1)).toMatchObject({
      actor: 'operator:alice',
      data: { accountNo: DUMA_NO, version: before + 1, initiators: '1', approvers: '2', bands: '0-:1' },
    });
    const sole = await admin('PUT', `/admin/mandates/${DUMA_NO}`, { ...base, initiators: [2] });
    expect(sole).toMatchObject({ status: 400, json: { error: expect.stringMatching(/sole approver/) } });
    const short = await admin('PUT', `/admin/mandates/${DUMA_NO}`, { ...base, rules: [{ minCents: 0, required: 2 }] });
    expect(short.status).toBe(400);
    // Not Duma's account, a client Fineract does not know, not a body.
    expect((await admin('PUT', `/admin/mandates/000000001`, base)).status).toBe(404);
    expect((await admin('PUT', `/admin/mandates/${DUMA_NO}`, { ...base, approvers: [99_999] })).status).toBe(400);
    expect((await admin('PUT', `/admin/mandates/${DUMA_NO}`, { clientId: 4 })).status).toBe(400);
    // Nothing refused was written.
    expect((await admin('GET', `/admin/mandates/${DUMA_NO}`)).json.version).toBe(before + 1);
  });

  it('lists pending approvals and lets an operator cancel one (hold released, audited with the operator)', async () => {
    const { mandates, approvals, sandbox } = server.services;
    const mandate = (await mandates.get(DUMA_NO))!;
    const onHold = () => sandbox!.bank.savingsAccount(DEMO_SAVINGS.duma.id)!.savingsAmountOnHold;
    const held = onHold();
    const record = await mandates.requestPayment(approvals, mandate, await mandates.party(1), dumaPaysBaraka(1_000_00));
    expect(record).toMatchObject({
      required: 1,
      approvers: [{ clientId: 2, label: 'Baraka O.' }],
      rule: expect.stringMatching(/^mandate:000000004@v\d+ band 0- needs 1$/),
    });
    expect(onHold()).toBe(held + 1_000_00);
    const listed = await admin('GET', '/admin/approvals?state=pending');
    expect(listed.status).toBe(200);
    expect(listed.json.approvals).toEqual([
      expect.objectContaining({ id: record.id, source: 'Duma Traders Ltd', amountMinor: 1_000_00, held: true }),
    ]);
    expect(JSON.stringify(listed.json)).not.toMatch(/\+2547/);
    expect((await admin('GET', '/admin/approvals?state=nope')).status).toBe(400);

    expect(await admin('DELETE', `/admin/approvals/${record.id}`)).toMatchObject({
      status: 200,
      json: { state: 'cancelled', held: false },
    });
    expect(onHold()).toBe(held);
    expect((await admin('DELETE', `/admin/approvals/${record.id}`)).status).toBe(409);
    expect((await admin('DELETE', `/admin/approvals/${'0'.repeat(32)}`)).status).toBe(404);
    expect((await auditOf('approval.cancelled')).at(-1)).toMatchObject({ actor: 'operator:alice', data: { approvalId: record.id } });
  });

  it('fails an approval raised under an older mandate version: nothing moves, hold released', async () => {
    const { mandates, approvals, sandbox } = server.services;
    const moved = () => sandbox!.bank.data.transfers.filter((t) => t.fromAccountId === DEMO_SAVINGS.duma.id).length;
    const before = moved();
    const record = await mandates.requestPayment(
      approvals,
      (await mandates.get(DUMA_NO))!,
      await mandates.party(1),
      dumaPaysBaraka(500_00),
    );
    expect((await admin('PUT', `/admin/mandates/${DUMA_NO}`, base)).status).toBe(200);
    const result = await approvals.approve(record.id, 2);
    expect(result).toMatchObject({ outcome: 'failed', reason: 'mandate-changed' });
    expect(moved()).toBe(before);
    expect((await approvals.get(record.id))!.holdId).toBeUndefined();
  });
});

describe("an executed approval's Fineract ids, as operators see them", () => {
  const executed = (ids: Partial<ApprovalRecord>): ApprovalRecord => ({
    id: 'a'.repeat(32),
    ref: 'AAAAAAAA',
    kind: 'mandate',
    state: 'executed',
    intent: dumaPaysBaraka(1_000_00, 'a'.repeat(32), 'AAAAAAAA'),
    requester: { clientId: 1, label: 'Amina W.' },
    approvers: [{ clientId: 2, label: 'Baraka O.' }],
    required: 1,
    approvedBy: [2],
    rule: 'mandate:000000004@v1 band 0- needs 1',
    createdAt: 0,
    expiresAt: 0,
    version: 3,
    ...ids,
  });

  it('names the detail id and the transaction id apart, and shows a pre-issue-13 fineractId as the transaction id', () => {
    expect(approvalView(executed({ transferDetailId: 41 }))).toMatchObject({ transferDetailId: 41 });
    expect(approvalView(executed({ transferDetailId: 41 }))).not.toHaveProperty('transferTransactionId');
    expect(approvalView(executed({ transferTransactionId: 9 }))).toMatchObject({ transferTransactionId: 9 });
    expect(approvalView(executed({ fineractId: 9 }))).toMatchObject({ transferTransactionId: 9 });
    expect(approvalView(executed({ fineractId: 9 }))).not.toHaveProperty('transferDetailId');
    expect(approvalView(executed({ fineractId: 9 }))).not.toHaveProperty('fineractId');
  });
});
