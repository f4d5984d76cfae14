import type { Bank } from '../bank.js';
import { addDays } from '../dates.js';
import { HttpError, ok, type Route } from '../router.js';
import { localDate, notFoundBody } from '../serialize.js';

/**
 * The business date as Fineract serves it (docs/fineract.md, business date):
 *
 * - `GET /businessdate` and `GET /businessdate/{type}` (BusinessDateApiResource, `READ_BUSINESS_DATE`) answer the
 *   stored rows (`m_business_date`) as BusinessDateData `{description, type, date}`, whether or not the feature is
 *   on. COB_DATE is the business date minus one day (`enable_automatic_cob_date_adjustment`, on by default).
 * - `GET /configurations/name/{name}` (GlobalConfigurationApiResource, `READ_CONFIGURATION`) answers
 *   GlobalConfigurationPropertyData; the sandbox knows only `enable_business_date` (its 1.9/1.10 name; from 1.11
 *   on it is `enable-business-date`, which the sandbox answers with Fineract's 404, as a 1.10 does).
 *
 * Only the literal types and name are routed (the router matches numeric parameters only): another type or
 * configuration name gets the container's 404, where Fineract answers `error.msg.businessdate.type.not.exist` or
 * `error.msg.configuration.property.invalid`.
 */

const FLAG = 'enable_business_date';

function businessDates(bank: Bank): Record<string, unknown>[] {
  const stored = bank.data.businessDate;
  return [
    { description: 'Business Date', type: 'BUSINESS_DATE', date: localDate(stored) },
    { description: 'Close of Business Date', type: 'COB_DATE', date: localDate(addDays(stored, -1)) },
  ];
}

const byType = (type: string): Route => ({
  method: 'GET',
  pattern: `/businessdate/${type}`,
  permission: 'READ_BUSINESS_DATE',
  handler: ({ bank }) => ok(businessDates(bank).find((d) => d.type === type)),
});

export const businessDateRoutes: Route[] = [
  { method: 'GET', pattern: '/businessdate', permission: 'READ_BUSINESS_DATE', handler: ({ bank }) => ok(businessDates(bank)) },
  byType('BUSINESS_DATE'),
  byType('COB_DATE'),
  {
    method: 'GET',
    pattern: `/configurations/name/${FLAG}`,
    permission: 'READ_CONFIGURATION',
    handler: ({ bank }) =>
      ok({
        name: FLAG,
        enabled: bank.businessDateEnabled,
        id: 43,
        description: 'Whether the logical business date functionality is enabled in the system',
        trapDoor: false,
      }),
  },
  {
    method: 'GET',
    pattern: '/configurations/name/enable-business-date',
    permission: 'READ_CONFIGURATION',
    handler: () => {
      const name = 'enable-business-date';
      throw new HttpError(
        404,
        notFoundBody('error.msg.configuration.property.invalid', `Configuration property \`${name}\` does not exist`, name),
      );
    },
  },
];
