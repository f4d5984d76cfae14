import type { Bank } from '../bank.js';
import { JsonCommand } from '../json-command.js';
import type { ClientRecord } from '../model.js';
import { HttpError, ok, type Route } from '../router.js';
import { domainRuleBody, notFoundBody, paramError, validationBody } from '../serialize.js';
import { accountNo, dataIntegrityBody, nextId } from './new-records.js';

/** Origination (docs/fineract.md §5.3): `POST /clients`, a new client from sign-up. */

/** ClientApiCollectionConstants.CLIENT_CREATE_REQUEST_DATA_PARAMETERS. */
const CLIENT_CREATE_PARAMS = [
  'familyMembers',
  'address',
  'locale',
  'dateFormat',
  'groupId',
  'accountNo',
  'externalId',
  'mobileNo',
  'emailAddress',
  'firstname',
  'middlename',
  'lastname',
  'fullname',
  'officeId',
  'active',
  'activationDate',
  'staffId',
  'submittedOnDate',
  'savingsProductId',
  'dateOfBirth',
  'genderId',
  'clientTypeId',
  'clientClassificationId',
  'clientNonPersonDetails',
  'displayName',
  'legalFormId',
  'datatables',
  'isStaff',
] as const;

/** A JSON boolean, or the strings "true"/"false" (FromJsonHelper.extractBooleanNamed); null when absent. */
function booleanValue(cmd: JsonCommand, name: string): boolean | null {
  const v = cmd.raw(name);
  if (v === undefined || v === null) return null;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string' && /^(true|false)$/i.test(v)) return v.toLowerCase() === 'true';
  throw new HttpError(
    400,
    validationBody([
      paramError(`validation.msg.client.${name}.must.be.true.or.false`, `The parameter \`${name}\` must be set as true or false.`, name),
    ]),
  );
}

/** ClientDataValidator.validateForCreate, then ClientWritePlatformServiceJpaRepositoryImpl.createClient. */
function createClient(bank: Bank, body: unknown): Record<string, unknown> {
  const cmd = new JsonCommand('client', body, CLIENT_CREATE_PARAMS);
  const officeId = cmd.positiveInt('officeId', true);
  const legalFormId = cmd.has('legalFormId') ? cmd.oneOf('legalFormId', [1, 2] as const) : 1;
  const individual = cmd.has('firstname') || cmd.has('lastname') || cmd.has('middlename');
  const full = cmd.has('fullname');
  let firstname: string | undefined;
  let lastname: string | undefined;
  let fullname: string | undefined;
  if (individual && full) {
    // validateIndividualNamePartsCannotBeUsedWithFullname
    cmd.errors.push(
      paramError(
        'validation.msg.client.fullname.cannot.also.be.provided.when.firstname.is.populated',
        'Failed data validation due to: cannot.also.be.provided.when.firstname.is.populated.',
        'fullname',
      ),
    );
  } else if (full) {
    fullname = cmd.text('fullname', true, 100);
  } else if (individual) {
    firstname = cmd.text('firstname', true, 50);
    cmd.text('middlename', false, 50);
    lastname = cmd.text('lastname', true, 50);
  } else {
    // failWithCode(".no.name.details.passed") on the `id` parameter: the source's double dot is kept.
    cmd.errors.push(
      paramError('validation.msg.client.id..no.name.details.passed', 'Failed data validation due to: .no.name.details.passed.', 'id'),
    );
  }
  const externalId = cmd.text('externalId', false, 100);
  const mobileNo = cmd.text('mobileNo', false, 50);
  const active = booleanValue(cmd, 'active');
  const activationDate = active === true ? cmd.date('activationDate', true) : undefined;
  const submittedOnDate = cmd.date('submittedOnDate', false);
  const dateOfBirth = cmd.date('dateOfBirth', false);
  if (
    dateOfBirth !== undefined &&
    (dateOfBirth >= bank.businessDate || (submittedOnDate !== undefined && dateOfBirth >= submittedOnDate))
  ) {
    cmd.errors.push(
      paramError(
        'validation.msg.client.dateOfBirth.is.greater.than.date',
        `The parameter \`dateOfBirth\` must be less than the provided date`,
        'dateOfBirth',
        [],
        dateOfBirth,
      ),
    );
  }
  cmd.throwIfErrors();
  if (!bank.office(officeId as number)) {
    throw new HttpError(
      404,
      notFoundBody('error.msg.office.id.invalid', `Office with identifier ${officeId} does not exist`, officeId as number),
    );
  }
  if (activationDate !== undefined && activationDate > bank.businessDate) {
    throw new HttpError(
      403,
      domainRuleBody('error.msg.clients.activationDate.in.the.future', `Activation date cannot be in the future.`, [activationDate]),
    );
  }
  // m_client.external_id is UNIQUE: the insert fails and handleDataIntegrityIssues names the external id.
  if (externalId !== undefined && bank.data.clients.some((c) => c.externalId === externalId)) {
    throw new HttpError(
      403,
      dataIntegrityBody(
        'error.msg.client.duplicate.externalId',
        `Client with externalId \`${externalId}\` already exists`,
        'externalId',
        externalId,
      ),
    );
  }
  // m_client.mobile_no is UNIQUE too (0001_initial_schema.xml): the same string twice fails, other spellings pass.
  if (mobileNo !== undefined && bank.data.clients.some((c) => c.mobileNo === mobileNo)) {
    throw new HttpError(
      403,
      dataIntegrityBody('error.msg.client.duplicate.mobileNo', `Client with mobileNo \`${mobileNo}\` already exists`, 'mobileNo', mobileNo),
    );
  }
  const id = nextId(bank.data.clients);
  const client: ClientRecord = {
    id,
    accountNo: accountNo(id),
    legalFormId: legalFormId === 2 ? 2 : 1,
    officeId: officeId as number,
    statusId: active === true ? 300 : 100,
    submittedOnDate: submittedOnDate ?? bank.businessDate,
    ...(externalId !== undefined ? { externalId } : {}),
    ...(firstname !== undefined ? { firstname } : {}),
    ...(lastname !== undefined ? { lastname } : {}),
    ...(fullname !== undefined ? { fullname } : {}),
    ...(mobileNo !== undefined ? { mobileNo } : {}),
    ...(dateOfBirth !== undefined ? { dateOfBirth } : {}),
    ...(activationDate !== undefined ? { activationDate } : {}),
  };
  bank.data.clients.push(client);
  bank.revision++;
  return {
    officeId: client.officeId,
    clientId: id,
    resourceId: id,
    ...(externalId !== undefined ? { resourceExternalId: externalId } : {}),
  };
}

export const clientCreationRoutes: Route[] = [
  {
    method: 'POST',
    pattern: '/clients',
    command: (query) => (query.get('command') === null ? { action: 'CREATE', entity: 'CLIENT' } : null),
    handler: ({ bank, body }) => ok(createClient(bank, body)),
  },
];
