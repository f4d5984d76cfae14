import { OPEN_APPLICATION_STATES, type Application, type ApplyRequest, type CheckResult } from './application.js';
import type { OriginationCore } from './core.js';
import { ADULT_AGE, ageOn, validNationalId } from './national-id.js';

/**
 * The automated checks of a submitted application: the catalogue's limits, no other open application, the
 * client's loans in Fineract (none in arrears, none of the same product), and for a signed-up applicant the
 * national ID's format and age. `others`: the applicant's applications, read before this one was stored.
 */
export async function runApplicationChecks(
  application: Application,
  request: ApplyRequest,
  others: Application[],
  deps: { core: OriginationCore; today: () => string },
): Promise<CheckResult[]> {
  const { terms } = request;
  const checks: CheckResult[] = [];
  const within =
    application.principalCents >= terms.minCents &&
    application.principalCents <= terms.maxCents &&
    terms.repayments.includes(application.repayments);
  checks.push({ name: 'catalogue-limits', ok: within, ...(within ? {} : { detail: 'out-of-range' }) });
  const open = others.find((a) => OPEN_APPLICATION_STATES.includes(a.state));
  checks.push({ name: 'open-application', ok: !open, ...(open ? { detail: 'open-application' } : {}) });
  if (application.clientId !== undefined) {
    try {
      const loans = await deps.core.openLoans(application.clientId, { hop: request.hop });
      const overdue = loans.some((l) => l.overdue);
      const same = loans.some((l) => l.productId === application.productId);
      checks.push({
        name: 'core-loans',
        ok: !overdue && !same,
        ...(overdue ? { detail: 'arrears' } : same ? { detail: 'active-loan' } : {}),
      });
    } catch {
      // Unknown is not a pass: the reviewer sees it and decides.
      checks.push({ name: 'core-loans', ok: true, detail: 'not-checked' });
    }
  } else checks.push({ name: 'core-loans', ok: true, detail: 'no-client' });
  const profile = request.profile;
  if (profile) {
    const idOk = profile.nationalId !== undefined && validNationalId(profile.country, profile.nationalId) === profile.nationalId;
    checks.push({ name: 'id-format', ok: idOk, ...(idOk ? {} : { detail: 'id-format' }) });
    const adult = profile.birthDate !== undefined && ageOn(profile.birthDate, deps.today()) >= ADULT_AGE;
    checks.push({ name: 'age', ok: adult, ...(adult ? {} : { detail: 'under-age' }) });
  } else {
    checks.push({ name: 'id-format', ok: true, detail: 'on-file' }, { name: 'age', ok: true, detail: 'on-file' });
  }
  return checks;
}
