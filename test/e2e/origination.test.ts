/**
 * Sign-up and loan applications (issue 12, points 2 to 5) against the built-in Fineract sandbox over real HTTP
 * and real Redis: +254711000009 signs up by USSD, applies by USSD for a Biashara Loan of 10,000 over 6
 * repayments and sees Fineract's quote, passes the automated checks, and a reviewer approves over the admin API;
 * the sandbox then holds one new client and one loan "submitted and pending approval" with the application's
 * external id, even when the approval is repeated or two approvals race; the applicant sees the status by USSD
 * and SMS. A declined application says why (SMS), a rejected one names the reviewer's reason. The status made in
 * Fineract (the sandbox approves, pays out or rejects the loan) is mirrored through the sandbox's LOAN hooks, as
 * Fineract posts them, with the poll far away (LOAN_STATUS_POLL_S); and by the poll's own code where no hook is
 * registered; hook and poll racing tell the applicant once. An applicant who is no client yet asks LOAN by SMS.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO, DEMO_UNKNOWN_MSISDN } from '../../src/sandbox/demo-data.js';
import type { OfferedTerms } from '../../src/origination/application.js';
import { offeredTerms } from '../../src/engine/registry-origination.js';
import { profilePinId, SignupRefused, type Profile } from '../../src/origination/profiles.js';
import { atSession, startTestServer, type TestServer } from '../helpers/server.js';
import { atSms } from '../sms/helpers.js';

const ALICE = 'alice-token-for-origination-tests-0123456';
const HOOK_SECRET = 'origination-hook-secret-0123456789';
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({
    ADMIN_TOKENS: `alice:${ALICE},bob:bob-token-for-origination-tests-012345678`,
    FINERACT_HOOK_SECRET: HOOK_SECRET,
    // No poll runs while these tests do: a change seen is the hook's, or the poll's code called by the test.
    LOAN_STATUS_POLL_S: '86400',
  });
});
afterAll(async () => {
  await server?.close();
});

const admin = (method: string, path: string, body?: unknown, token = ALICE) =>
  fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  }).then(async (r) => ({ status: r.status, json: (await r.json()) as Record<string, unknown> }));

/** Calls the sandbox as Fineract's own back office would. */
const fineract = async (method: string, path: string, body?: unknown) => {
  const res = await fetch(`${server.services.sandboxUrl}${path}`, {
    method,
    headers: {
      authorization: `Basic ${Buffer.from(`${DEMO.username}:${DEMO.password}`).toString('base64')}`,
      'fineract-platform-tenantid': DEMO.tenant,
      'content-type': 'application/json',
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
};

const sms = async (msisdn: string) => {
  await server.services.queue.idle(5000);
  return server.services.outbox!.list(msisdn).map((m) => m.text);
};

function biashara(): OfferedTerms {
  return offeredTerms(server.services.productCatalogue!.loanProduct(1, 'ussd', 'en')!);
}

async function auditOf(type: string) {
  await server.services.audit.flush();
  const out: { actor?: string; data?: Record<string, unknown> }[] = [];
  for await (const record of server.services.audit.entries()) {
    const entry = record.entry as { type?: string; actor?: string; data?: Record<string, unknown> };
    if (entry.type === type) out.push(entry);
  }
  return out;
}

async function signUp(msisdn: string, name: string, nationalId: string, birth = '15061990', lang = 'en'): Promise<Profile> {
  const { profiles } = server.services;
  const p = await profiles.start(msisdn);
  await profiles.setName(p.id, name);
  await profiles.setNationalId(p.id, nationalId);
  await profiles.setBirthDate(p.id, birth);
  await profiles.setLanguage(p.id, lang);
  await profiles.consent(p.id, 'ussd');
  return profiles.pinSet(p.id, 'ussd');
}

async function applyFor(profile: Profile, principalCents: number, repayments: number) {
  const { applications } = server.services;
  const terms = biashara();
  const quote = await applications.quote(terms, principalCents, repayments);
  return applications.apply({ msisdn: profile.msisdn, lang: 'en', channel: 'ussd', profile, terms, principalCents, repayments, quote });
}

/**
 * Registers Kiunga's hook in the sandbox for the LOAN events that change a loan's status, as an operator registers
 * it in Fineract (README, Fineract hooks); any hook registered before is dropped first.
 */
async function registerLoanHooks() {
  server.services.sandbox!.hooks.clear();
  const registered = await fineract('POST', '/hooks', {
    name: 'Web',
    displayName: 'kiunga-loans',
    isActive: true,
    events: ['APPROVE', 'DISBURSE', 'REJECT'].map((actionName) => ({ entityName: 'LOAN', actionName })),
    config: { 'Payload URL': `${server.url}/hooks/fineract/${HOOK_SECRET}/`, 'Content Type': 'json' },
  });
  expect(registered.status).toBe(200);
}

/** Moves a loan in the sandbox as Fineract's back office does (approve, disburse, reject), on the business date. */
async function backOffice(loanId: number, command: 'approve' | 'disburse' | 'reject') {
  const date = await server.services.fineract.businessDate();
  const field = { approve: 'approvedOnDate', disburse: 'actualDisbursementDate', reject: 'rejectedOnDate' }[command];
  const res = await fineract('POST', `/loans/${loanId}?command=${command}`, { [field]: date, dateFormat: 'yyyy-MM-dd', locale: 'en' });
  expect(res.status, JSON.stringify(res.json)).toBe(200);
}

/** The SMS the applicant got about one application with this text in it. */
const told = async (msisdn: string, ref: string, text: string) => (await sms(msisdn)).filter((t) => t.includes(ref) && t.includes(text));

/** The `application.status` audit entries of one application (one per change mirrored from Fineract). */
const statusChanges = async (id: string) => (await auditOf('application.status')).filter((e) => e.data?.application === id);

const refusal = (p: Promise<unknown>) =>
  p.then(
    () => 'none',
    (e: unknown) => (e instanceof SignupRefused ? e.reason : String(e)),
  );

describe('sign-up', () => {
  // +254711000009 (DEMO_UNKNOWN_MSISDN) signs up by USSD below, once in this server: Fineract refuses a
  // second client with the same number.
  const NEEMA = '+254711000070';

  it('keeps each answer, resumes where the applicant stopped on a redial, and audits the consent with the terms version', async () => {
    const { profiles } = server.services;
    const started = await profiles.start(NEEMA);
    await profiles.setName(started.id, 'Neema Wanjiru');
    await profiles.setNationalId(started.id, '2987 6543');
    // The applicant hangs up; the redial finds the same profile at the next step.
    const resumed = await profiles.start(NEEMA);
    expect(resumed.id).toBe(started.id);
    expect(resumed.state).toBe('birthDate');
    expect(resumed.nationalId).toBe('29876543');
    expect(await refusal(profiles.setBirthDate(started.id, '31022000'))).toBe('birth-date');
    await profiles.setBirthDate(started.id, '15061990');
    await profiles.setLanguage(started.id, 'en');
    await profiles.consent(started.id, 'ussd');
    const done = await profiles.pinSet(started.id, 'ussd');
    expect(done.state).toBe('done');
    expect(done.consent?.termsVersion).toBe('2026-12');
    const consents = await auditOf('signup.consent');
    expect(consents.some((e) => e.data?.profileId === started.id && e.data?.termsVersion === '2026-12')).toBe(true);
  });

  it('refuses a number that is already a client, a malformed or taken ID number, and an applicant under 18', async () => {
    const { profiles } = server.services;
    expect(await refusal(profiles.start('+254711000001'))).toBe('already-client');
    const p = await profiles.start('+254711000077');
    await profiles.setName(p.id, 'Juma Otieno');
    expect(await refusal(profiles.setNationalId(p.id, '12345'))).toBe('id-format');
    expect(await refusal(profiles.setNationalId(p.id, '123456789'))).toBe('id-format');
    // Neema's ID from the first test: an ID on another profile is refused.
    expect(await refusal(profiles.setNationalId(p.id, '29876543'))).toBe('id-taken');
    // Amina's national ID in Fineract (client 1's identifier): she should dial as herself.
    expect(await refusal(profiles.setNationalId(p.id, '23456789'))).toBe('id-taken');
    await profiles.setNationalId(p.id, '7654321');
    const under = new Date();
    const sixteen = `${String(under.getUTCDate()).padStart(2, '0')}${String(under.getUTCMonth() + 1).padStart(2, '0')}${under.getUTCFullYear() - 16}`;
    expect(await refusal(profiles.setBirthDate(p.id, sixteen))).toBe('under-age');
    // Nothing is answered ahead of its turn.
    expect(await refusal(profiles.consent(p.id, 'ussd'))).toBe('out-of-order');
  });
});

const money = (cents: number) => `KES ${(cents / 100).toLocaleString('en-US', { minimumFractionDigits: 2 })}`;

describe('loan application', () => {
  let applicationId = '';

  it('signs up by USSD (a redial resumes), applies for a Biashara Loan of 10,000 over 6 repayments with the quote, and the checks pass', async () => {
    const { applications, profiles } = server.services;
    const dial = atSession(server, DEMO_UNKNOWN_MSISDN);
    expect((await dial.send()).body).toBe('CON Welcome. This number has no bank account yet.\n1. Open an account');
    // Nothing is kept for a number that only dials.
    expect(await profiles.forNumber(DEMO_UNKNOWN_MSISDN)).toBeUndefined();
    expect((await dial.send('1')).body).toBe('CON Open an account. Enter your first and last name:');
    expect((await dial.send('Wanjiku Njeri')).body).toBe('CON Enter your national ID number:');
    // Amina's national ID is on her client in Fineract: refused with what to do instead.
    expect((await dial.send('23456789')).body).toBe(
      'END This ID number is already registered. Dial from your registered number, or visit a branch with your ID card.',
    );
    // The redial resumes at the step reached.
    const session = atSession(server, DEMO_UNKNOWN_MSISDN);
    expect((await session.send()).body).toBe('CON Enter your national ID number:');
    expect((await session.send('31234567')).body).toBe('CON Enter your date of birth as DDMMYYYY (like 15061990):');
    expect((await session.send('15061990')).body).toContain('CON Choose your language:');
    expect((await session.send('1')).body).toContain('Wanjiku Njeri, ID 31234567, born 15/06/1990');
    expect((await session.send('1')).body).toContain('Terms 2026-12:');
    expect((await session.send('1')).body).toBe('CON Choose a 4-digit PIN for your account:');
    expect((await session.send('1990')).body).toBe('CON Your year of birth is too easy to guess. Choose another PIN:');
    expect((await session.send('2580')).body).toBe('CON Enter the new PIN again:');
    expect((await session.send('2580')).body).toBe('CON Account opened. Keep your PIN secret.\n1. Apply for a loan');
    const profile = (await profiles.forNumber(DEMO_UNKNOWN_MSISDN))!;
    expect(profile).toMatchObject({ state: 'done', firstname: 'Wanjiku', nationalId: '31234567', lang: 'en' });
    expect(profile.consent?.termsVersion).toBe('2026-12');
    expect((await auditOf('signup.consent')).some((e) => e.data?.profileId === profile.id && e.data?.termsVersion === '2026-12')).toBe(
      true,
    );
    // The PIN is kept under the profile (hashed), never in the session or the profile.
    expect(await server.services.pins.verify(profilePinId(profile.id), '2580')).toEqual({ result: 'ok' });
    expect(JSON.stringify(profile)).not.toContain('2580');

    expect((await session.send('1')).body).toBe('CON Apply for a loan:\n1. Biashara Loan');
    expect((await session.send('1')).body).toBe('CON Biashara Loan: amount from KES 5,000.00 to KES 50,000.00:');
    expect((await session.send('60000')).body).toBe('CON The amount must be from KES 5,000.00 to KES 50,000.00. Enter the amount:');
    await session.send('10000');
    const expected = await applications.quote(biashara(), 1_000_000, 6);
    expect(expected.instalmentCents).toBeGreaterThan(1_000_000 / 6);
    expect(expected.totalRepaymentCents).toBe(expected.totalCostCents + 1_000_000);
    expect((await session.send('2')).body).toBe(
      `CON Biashara Loan KES 10,000.00: 6 repayments of ${money(expected.instalmentCents)}, total ${money(expected.totalRepaymentCents)}. Sent by SMS. Enter your PIN to apply:`,
    );
    expect((await session.send('1111')).body).toContain('Wrong PIN.');
    const sent = await session.send('2580');
    expect(sent.body).toMatch(/^END Application sent\. [A-Z2-9]{8} Biashara Loan KES 10,000\.00: waiting for review$/);
    const [application] = await applications.forApplicant(DEMO_UNKNOWN_MSISDN, 1);
    applicationId = application!.id;
    expect(application).toMatchObject({
      state: 'review',
      profileId: profile.id,
      principalCents: 1_000_000,
      repayments: 6,
      channel: 'ussd',
    });
    expect(application!.clientId).toBeUndefined();
    expect(application!.quote).toEqual(expected);
    expect(application!.checks.every((c) => c.ok)).toBe(true);
    expect(application!.checks.map((c) => c.name)).toEqual(['catalogue-limits', 'open-application', 'core-loans', 'id-format', 'age']);
    const texts = await sms(DEMO_UNKNOWN_MSISDN);
    expect(texts.some((t) => t.startsWith('Quote: Biashara Loan') && t.includes('6 repayments'))).toBe(true);
    expect(texts.some((t) => t.includes(application!.ref) && t.includes('passed our checks'))).toBe(true);
    // No PIN in any SMS, session or audit entry.
    expect(texts.some((t) => t.includes('2580'))).toBe(false);
  });

  it('lists it for reviewers, and a second one from the same applicant is declined with the reason', async () => {
    const list = await admin('GET', '/admin/applications?state=review');
    expect(list.status).toBe(200);
    const rows = list.json.applications as { id: string; msisdn: string }[];
    expect(rows.map((r) => r.id)).toContain(applicationId);
    expect(rows.find((r) => r.id === applicationId)!.msisdn).not.toContain('711000009');
    const profile = (await server.services.profiles.forNumber(DEMO_UNKNOWN_MSISDN))!;
    const second = await applyFor(profile, 600_000, 3);
    expect(second.state).toBe('declined');
    expect(second.reason).toBe('open-application');
    expect((await sms(DEMO_UNKNOWN_MSISDN)).some((t) => t.includes(second.ref) && t.includes('You already have an open application'))).toBe(
      true,
    );
  });

  it('an approval repeated and raced makes one client and one loan submitted and pending approval, with the external ids', async () => {
    // The PIN chosen at sign-up by USSD is kept under the profile until the client exists (the hash, never the PIN).
    const [a, b] = await Promise.all([
      admin('POST', `/admin/applications/${applicationId}/approve`),
      admin('POST', `/admin/applications/${applicationId}/approve`, undefined, 'bob-token-for-origination-tests-012345678'),
    ]);
    expect([a.status, b.status]).toEqual([200, 200]);
    const again = await admin('POST', `/admin/applications/${applicationId}/approve`);
    expect(again.status).toBe(200);
    expect(again.json.state).toBe('in-core');
    const loanId = again.json.loanId as number;
    expect(a.json.loanId).toBe(loanId);
    expect(b.json.loanId).toBe(loanId);

    const loans = await fineract('GET', `/loans?externalId=${applicationId}`);
    const items = loans.json.pageItems as { id: number; clientId: number; status: { id: number; code: string } }[];
    expect(items).toHaveLength(1);
    expect(items[0]!.status.code).toBe('loanStatusType.submitted.and.pending.approval');
    const profile = (await server.services.profiles.forNumber(DEMO_UNKNOWN_MSISDN))!;
    expect(profile.clientId).toBe(items[0]!.clientId);
    const clients = await fineract('GET', `/clients?externalId=${profile.id}`);
    expect(clients.json.pageItems as unknown[]).toHaveLength(1);
    // The applicant keeps the PIN they chose: it now opens the new client's account.
    expect(await server.services.pins.verify(profile.clientId!, '2580')).toEqual({ result: 'ok' });
    // One reviewer's decision is audited, with the operator's name.
    const approved = (await auditOf('application.approved')).filter((e) => e.data?.application === applicationId);
    expect(approved).toHaveLength(1);
    expect(['operator:alice', 'operator:bob']).toContain(approved[0]!.actor);
    expect((await sms(DEMO_UNKNOWN_MSISDN)).some((t) => t.includes('now with the bank'))).toBe(true);
  });

  it("mirrors Fineract's approval and payout through its LOAN hooks, before any poll, with one SMS per change", async () => {
    const { applications, sandbox } = server.services;
    await registerLoanHooks();
    const application = (await applications.get(applicationId))!;
    expect(application.state).toBe('in-core');
    await backOffice(application.loanId!, 'approve');
    await sandbox!.hooks.idle();
    expect(sandbox!.hooks.deliveries.map((d) => [d.entity, d.action, d.status])).toEqual([['LOAN', 'APPROVE', 200]]);
    await server.services.queue.idle(10_000);
    const approved = (await applications.get(applicationId))!;
    expect(approved.state).toBe('core-approved');
    expect(applications.statusLine(approved)).toContain('loan approved');
    expect(await told(DEMO_UNKNOWN_MSISDN, approved.ref, 'is approved')).toHaveLength(1);
    expect((await statusChanges(applicationId)).map((e) => e.data?.state)).toEqual(['core-approved']);
    // The same status again (what the poll would read) changes nothing.
    expect((await applications.sync(applicationId))!.version).toBe(approved.version);

    await backOffice(application.loanId!, 'disburse');
    await sandbox!.hooks.idle();
    expect(sandbox!.hooks.deliveries.map((d) => [d.action, d.status])).toEqual([
      ['APPROVE', 200],
      ['DISBURSE', 200],
    ]);
    await server.services.queue.idle(10_000);
    const paid = (await applications.get(applicationId))!;
    expect(paid.state).toBe('disbursed');
    expect(await told(DEMO_UNKNOWN_MSISDN, paid.ref, 'has been paid out')).toHaveLength(1);
    expect(await told(DEMO_UNKNOWN_MSISDN, paid.ref, 'is approved')).toHaveLength(1);
    expect((await statusChanges(applicationId)).map((e) => e.data?.state)).toEqual(['core-approved', 'disbursed']);

    // By USSD, with the PIN chosen at sign-up, the applicant sees the change under My applications as the new
    // client (the "no client" the sign-up dials left in the phone lookup cache was forgotten when it was created).
    const session = atSession(server, DEMO_UNKNOWN_MSISDN);
    expect((await session.send()).body).toBe('CON Welcome Wanjiku. Enter your PIN:');
    expect((await session.send('2580')).body).toContain('11. My applications');
    // The declined second application is newer, so listed first.
    const list = (await session.send('11')).body;
    const row = new RegExp(`(\\d+)\\. ${paid.ref} Biashara Loan KES 10,000\\.00`).exec(list)?.[1];
    expect(row).toBeDefined();
    expect((await session.send(row!)).body).toContain(`${paid.ref} Biashara Loan KES 10,000.00: loan paid out`);
    // Now a client, the applicant asks by SMS: LOAN lists the application with the status Fineract gave it.
    expect((await atSms(server, DEMO_UNKNOWN_MSISDN, 'LOAN')).status).toBe(200);
    await expect
      .poll(async () => (await sms(DEMO_UNKNOWN_MSISDN)).find((t) => t.startsWith('Your loan applications:')), { timeout: 5000 })
      .toContain(`${paid.ref} Biashara Loan KES 10,000.00: loan paid out`);
  });

  it('mirrors a change by the poll where no hook is registered; the hook and the poll racing tell the applicant once', async () => {
    const { applications, sandbox } = server.services;
    sandbox!.hooks.clear();
    const profile = await signUp('+254711000080', 'Zawadi Achieng', '3456789');
    // The PIN the USSD sign-up would have set (kept under the profile, carried to the client on approval).
    await server.services.pins.setPin(profilePinId(profile.id), '4826');
    const application = await applyFor(profile, 700_000, 3);
    expect(application.state).toBe('review');
    const sent = await admin('POST', `/admin/applications/${application.id}/approve`);
    expect(sent.json.state).toBe('in-core');
    const loanId = sent.json.loanId as number;
    /** The application's line under My applications, by USSD as the new client. */
    const byUssd = async () => {
      const session = atSession(server, profile.msisdn);
      expect((await session.send()).body).toBe('CON Welcome Zawadi. Enter your PIN:');
      expect((await session.send('4826')).body).toContain('11. My applications');
      expect((await session.send('11')).body).toContain(`1. ${application.ref} Biashara Loan KES 7,000.00`);
      return (await session.send('1')).body;
    };
    expect(await byUssd()).toContain(`${application.ref} Biashara Loan KES 7,000.00: with the bank, pending approval`);

    await backOffice(loanId, 'approve');
    await server.services.queue.idle(10_000);
    // No hook and no poll yet: Kiunga does not know.
    expect((await applications.get(application.id))!.state).toBe('in-core');
    // What the poll runs on its beat.
    expect(await applications.syncAll()).toBeGreaterThanOrEqual(1);
    const approved = (await applications.get(application.id))!;
    expect(approved.state).toBe('core-approved');
    expect(await told(profile.msisdn, approved.ref, 'is approved')).toHaveLength(1);
    expect(await byUssd()).toContain(`${application.ref} Biashara Loan KES 7,000.00: loan approved, waiting for payout`);

    // The hook is registered now; the payout is seen by the poll and by the hook at once.
    await registerLoanHooks();
    await backOffice(loanId, 'disburse');
    await Promise.all([sandbox!.hooks.idle(), applications.syncAll()]);
    expect(sandbox!.hooks.deliveries.map((d) => [d.action, d.status])).toEqual([['DISBURSE', 200]]);
    await server.services.queue.idle(10_000);
    expect((await applications.get(application.id))!.state).toBe('disbursed');
    expect(await told(profile.msisdn, approved.ref, 'has been paid out')).toHaveLength(1);
    expect((await statusChanges(application.id)).map((e) => e.data?.state)).toEqual(['core-approved', 'disbursed']);
  });

  it('mirrors a rejection made in Fineract through its hook, told once', async () => {
    const { applications, sandbox } = server.services;
    await registerLoanHooks();
    const profile = await signUp('+254711000081', 'Amani Mwangi', '4567890');
    const application = await applyFor(profile, 900_000, 12);
    expect(application.state).toBe('review');
    const sent = await admin('POST', `/admin/applications/${application.id}/approve`);
    expect(sent.json.state).toBe('in-core');
    await backOffice(sent.json.loanId as number, 'reject');
    await sandbox!.hooks.idle();
    await server.services.queue.idle(10_000);
    const rejected = (await applications.get(application.id))!;
    expect(rejected.state).toBe('core-rejected');
    expect(await told(profile.msisdn, rejected.ref, 'the bank rejected your Biashara Loan')).toHaveLength(1);
    // Rejected in Fineract: no longer open, and the poll leaves it alone.
    expect((await applications.sync(application.id))!.version).toBe(rejected.version);
  });

  it('tries a hook again while Fineract does not show the change yet (a hook built inside the transaction), then mirrors it', async () => {
    const { applications, sandbox } = server.services;
    sandbox!.hooks.clear();
    const profile = await signUp('+254711000084', 'Baraka Njoroge', '6789012');
    const application = await applyFor(profile, 600_000, 6);
    const sent = await admin('POST', `/admin/applications/${application.id}/approve`);
    expect(sent.json.state).toBe('in-core');
    const loanId = sent.json.loanId as number;
    // Fineract posted APPROVE before its transaction committed: the loan still reads "submitted and pending approval".
    const res = await fetch(`${server.url}/hooks/fineract/${HOOK_SECRET}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-fineract-entity': 'LOAN', 'x-fineract-action': 'APPROVE' },
      body: JSON.stringify({
        entityName: 'LOAN',
        actionName: 'APPROVE',
        request: { locale: 'en', dateFormat: 'yyyy-MM-dd' },
        officeId: 1,
        clientId: sent.json.clientId,
        response: { clientId: sent.json.clientId, loanId, resourceId: loanId, changes: {} },
        timestamp: new Date().toISOString(),
      }),
    });
    expect(await res.json()).toEqual({ status: 'accepted' });
    // The first try finds the loan as it was and fails (retried by the queue).
    await expect
      .poll(() => server.logs.text.includes("the loan's new status is not visible in Fineract yet"), { timeout: 10_000 })
      .toBe(true);
    expect((await applications.get(application.id))!.state).toBe('in-core');
    // The commit becomes visible: the next try mirrors it.
    await backOffice(loanId, 'approve');
    await server.services.queue.idle(20_000);
    const approved = (await applications.get(application.id))!;
    expect(approved.state).toBe('core-approved');
    expect(await told(profile.msisdn, approved.ref, 'is approved')).toHaveLength(1);
  });

  it('answers LOAN by SMS to an applicant who is no client yet, in the language of the sign-up', async () => {
    const { applications } = server.services;
    const IMANI = '+254711000082';
    const profile = await signUp(IMANI, 'Imani Chebet', '5678901', '15061990', 'sw');
    const application = await applyFor(profile, 800_000, 6);
    expect(application.state).toBe('review');
    expect(application.clientId).toBeUndefined();
    expect((await atSms(server, IMANI, 'LOAN')).status).toBe(200);
    const line = applications.statusLine({ ...application, lang: 'sw' });
    expect(line).toContain('inasubiri ukaguzi');
    await expect
      .poll(async () => (await sms(IMANI)).find((t) => t.startsWith('Maombi yako ya mkopo:')), { timeout: 5000 })
      .toBe(`Maombi yako ya mkopo:\n${line}`);
    // Any other word gets the one keyword such a number has; a number with no sign-up is not registered.
    expect((await atSms(server, IMANI, 'BAL 1234')).status).toBe(200);
    await expect.poll(async () => (await sms(IMANI)).at(-1), { timeout: 5000 }).toContain('Tuma MKOPO');
    expect((await atSms(server, '+254711000083', 'LOAN')).status).toBe(200);
    await expect.poll(async () => (await sms('+254711000083')).at(-1), { timeout: 5000 }).toContain('not registered');
  });

  it('a reviewer rejects with a reason, idempotently; approving it afterwards is refused', async () => {
    const profile = await signUp('+254711000078', 'Halima Said', '8765432');
    const application = await applyFor(profile, 800_000, 3);
    expect(application.state).toBe('review');
    const path = `/admin/applications/${application.id}`;
    expect((await admin('POST', `${path}/reject`, {})).status).toBe(400);
    const first = await admin('POST', `${path}/reject`, { reason: 'income not shown' });
    const again = await admin('POST', `${path}/reject`, { reason: 'income not shown' });
    expect([first.status, again.status]).toEqual([200, 200]);
    expect(first.json.state).toBe('rejected');
    expect((await admin('POST', `${path}/approve`)).status).toBe(409);
    expect((await admin('GET', path)).json.reviewedBy).toBe('alice');
    expect((await auditOf('application.rejected')).filter((e) => e.data?.application === application.id)).toHaveLength(1);
    expect((await sms('+254711000078')).some((t) => t.includes('declined by the bank: income not shown'))).toBe(true);
    expect((await admin('GET', '/admin/applications/0123456789abcdef0123456789abcdef')).status).toBe(404);
  });

  it('terms outside the catalogue is declined with the reason and the next step; the applicant may withdraw before submission', async () => {
    const profile = await signUp('+254711000079', 'Baraka Kamau', '1234567');
    // Four repayments: inside Biashara's own range in Fineract (3 to 12), but the catalogue offers 3, 6 or 12.
    const tooMuch = await applyFor(profile, 1_000_000, 4);
    expect(tooMuch.state).toBe('declined');
    expect(tooMuch.reason).toBe('out-of-range');
    expect((await sms('+254711000079')).some((t) => t.includes(tooMuch.ref) && t.includes('Apply again within the range shown'))).toBe(
      true,
    );
    const fine = await applyFor(profile, 500_000, 3);
    expect(fine.state).toBe('review');
    // Another number cannot withdraw it; a withdrawal racing an approval leaves exactly one of them done.
    expect((await server.services.applications.withdraw(fine.id, '+254711000001')).outcome).toBe('not-found');
    const [withdrawn, approval] = await Promise.all([
      server.services.applications.withdraw(fine.id, profile.msisdn),
      admin('POST', `/admin/applications/${fine.id}/approve`),
    ]);
    expect([withdrawn.outcome === 'done', approval.status === 200].filter(Boolean)).toHaveLength(1);
    if (approval.status === 200) return;
    expect((await admin('POST', `/admin/applications/${fine.id}/approve`)).status).toBe(409);
    const mine = await server.services.applications.forApplicant(profile.msisdn);
    expect(mine.map((a) => a.state)).toEqual(['withdrawn', 'declined']);
  });
});

describe('My applications by USSD', () => {
  const BARAKA = { msisdn: '+254711000002', pin: '2468', clientId: 2 };

  /** Baraka, a registered customer, applies (the service, as the application screens will). */
  async function barakaApplies(principalCents: number) {
    const { applications } = server.services;
    const terms = biashara();
    const quote = await applications.quote(terms, principalCents, 6, BARAKA.clientId);
    return applications.apply({
      msisdn: BARAKA.msisdn,
      lang: 'en',
      channel: 'ussd',
      clientId: BARAKA.clientId,
      terms,
      principalCents,
      repayments: 6,
      quote,
    });
  }

  async function openList() {
    const session = atSession(server, BARAKA.msisdn);
    await session.send();
    const menu = await session.send(BARAKA.pin);
    return { session, menu };
  }

  it('lists the applications with their status, and withdraws one waiting for review (told by SMS)', async () => {
    const before = await openList();
    expect(before.menu.body).toMatch(/^CON Main menu/);
    expect(before.menu.body).not.toContain('My applications');

    const application = await barakaApplies(600_000);
    expect(application.state).toBe('review');
    const { session, menu } = await openList();
    expect(menu.body).toContain('11. My applications');
    const list = await session.send('11');
    expect(list.body).toContain('Your loan applications:');
    expect(list.body).toContain(`1. ${application.ref} Biashara Loan KES 6,000.00`);
    const shown = await session.send('1');
    expect(shown.body).toContain(`${application.ref} Biashara Loan KES 6,000.00: waiting for review`);
    expect(shown.body).toContain('1. Withdraw it');
    expect((await session.send('1')).body).toContain(`Withdraw application ${application.ref}?`);
    expect((await session.send('1')).body).toBe(`END Application ${application.ref} is withdrawn. An SMS will confirm.`);
    expect((await server.services.applications.get(application.id))!.state).toBe('withdrawn');
    expect((await sms(BARAKA.msisdn)).some((t) => t.includes(application.ref) && t.includes('was withdrawn as you asked'))).toBe(true);

    // Withdrawn: its status is shown, and nothing more is offered.
    const again = await openList();
    await again.session.send('11');
    const after = await again.session.send('1');
    expect(after.body).toContain(`${application.ref} Biashara Loan KES 6,000.00: withdrawn by you`);
    expect(after.body).not.toContain('Withdraw it');
  });

  it('refuses to withdraw an application a reviewer decided while the screen was open, and it stays decided', async () => {
    const application = await barakaApplies(700_000);
    expect(application.state).toBe('review');
    const { session } = await openList();
    await session.send('11');
    expect((await session.send('1')).body).toContain('1. Withdraw it');
    expect((await session.send('1')).body).toContain(`Withdraw application ${application.ref}?`);
    expect((await admin('POST', `/admin/applications/${application.id}/reject`, { reason: 'incomplete' })).status).toBe(200);
    expect((await session.send('1')).body).toBe(
      `END Application ${application.ref} can no longer be withdrawn: it was decided or sent to the bank. Call us or visit a branch.`,
    );
    expect((await server.services.applications.get(application.id))!.state).toBe('rejected');
  });

  /** Dial, PIN, Apply for a loan, Biashara Loan, the amount, the repayments' choice: the quote screen. */
  async function applyByUssd(amount: string, choice: string) {
    const { session, menu } = await openList();
    expect(menu.body).toContain('12. Apply for a loan');
    const products = await session.send('12');
    expect(products.body).toBe('CON Apply for a loan:\n1. Biashara Loan');
    expect((await session.send('1')).body).toBe('CON Biashara Loan: amount from KES 5,000.00 to KES 50,000.00:');
    await session.send(amount);
    const quote = await session.send(choice);
    return { session, quote };
  }

  it('applies by USSD: catalogue range enforced, the quote shown and sent by SMS, the PIN submits, the checks answer', async () => {
    const { session, menu } = await openList();
    await session.send('12');
    await session.send('1');
    expect((await session.send('4999')).body).toBe('CON The amount must be from KES 5,000.00 to KES 50,000.00. Enter the amount:');
    expect((await session.send('50001')).body).toContain('The amount must be from KES 5,000.00 to KES 50,000.00.');
    expect(menu.body).toContain('12. Apply for a loan');

    const { session: applying, quote } = await applyByUssd('10000', '2');
    const expected = await server.services.applications.quote(biashara(), 1_000_000, 6, BARAKA.clientId);
    const money = (cents: number) => `KES ${(cents / 100).toLocaleString('en-US', { minimumFractionDigits: 2 })}`;
    expect(quote.body).toBe(
      `CON Biashara Loan KES 10,000.00: 6 repayments of ${money(expected.instalmentCents)}, total ${money(expected.totalRepaymentCents)}. Sent by SMS. Enter your PIN to apply:`,
    );
    expect((await sms(BARAKA.msisdn)).some((t) => t.startsWith('Quote: Biashara Loan KES 10,000.00 over 6 repayments'))).toBe(true);
    const done = await applying.send(BARAKA.pin);
    expect(done.body).toMatch(/^END Application sent\. [A-Z2-9]{8} Biashara Loan KES 10,000\.00: waiting for review$/);
    const [newest] = await server.services.applications.forApplicant(BARAKA.msisdn, 1);
    expect(newest).toMatchObject({ state: 'review', clientId: BARAKA.clientId, principalCents: 1_000_000, repayments: 6, channel: 'ussd' });
    expect(newest!.quote).toEqual(expected);

    // A second one while the first is open: declined at once, with why and what to do.
    const second = await applyByUssd('5000', '1');
    expect(second.quote.body).toContain('3 repayments of');
    expect((await second.session.send(BARAKA.pin)).body).toContain(
      'declined. You already have an open application. Wait for its answer or withdraw it under My applications.',
    );
  });
});
