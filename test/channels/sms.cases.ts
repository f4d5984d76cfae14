import type { CaseTable } from './harness.js';

/** Africa's Talking SMS (replies through the job queue) and Twilio SMS (replies as TwiML). */

const AT_SMS = '/channels/africastalking/sms';
const TW_SMS = '/channels/twilio/sms';
const at = (from: string, text: string) => ({
  from,
  to: '22384',
  text,
  date: '2026-11-20 09:00:00',
  id: 'ATXid_$ID',
  networkCode: '63902',
});
const tw = (from: string, body: string) => ({
  MessageSid: 'SM$ID',
  SmsSid: 'SM$ID',
  AccountSid: 'AC00000000000000000000000000000000',
  From: from,
  To: '+15005550006',
  Body: body,
});

export const atSmsCases: CaseTable = {
  adapter: 'africastalking-sms',
  env: { SMS_PIN_ENABLED: 'true' },
  cases: [
    {
      name: 'a keyword with its PIN: 200 OK, the reply queued',
      threat: 'T6',
      steps: [{ path: AT_SMS, query: 'key=$KEY', form: at('+254711000002', 'BAL 2468'), status: 200, body: 'OK' }],
    },
    { name: 'no key: 403', threat: 'T1', steps: [{ path: AT_SMS, form: at('+254711000002', 'HELP'), status: 403, body: 'forbidden' }] },
    {
      name: 'malformed: 400 bad request; not a form: 415',
      threat: 'T22',
      steps: [
        { path: AT_SMS, query: 'key=$KEY', form: { from: '+254711000002', text: 'HELP' }, status: 400, body: 'bad request' },
        { path: AT_SMS, query: 'key=$KEY', form: at('+254711000002', 'x'.repeat(1601)), status: 400, body: 'bad request' },
        {
          path: AT_SMS,
          query: 'key=$KEY',
          raw: { type: 'text/plain', body: 'BAL 2468' },
          status: 415,
          body: 'expected application/x-www-form-urlencoded',
        },
      ],
    },
    {
      name: 'an alphanumeric sender: read, not answered',
      steps: [{ path: AT_SMS, query: 'key=$KEY', form: at('MPESA', 'HELP'), status: 200, body: 'OK' }],
    },
    {
      name: 'delivery reports: OK, and a malformed one 400',
      steps: [
        {
          path: `${AT_SMS}/delivery`,
          query: 'key=$KEY',
          form: { id: 'ATXid_$ID', status: 'Success', phoneNumber: '+254711000002' },
          status: 200,
          body: 'OK',
        },
        {
          path: `${AT_SMS}/delivery`,
          query: 'key=$KEY',
          form: { id: 'ATXid_$ID', status: 'Not a status!' },
          status: 400,
          body: 'bad request',
        },
      ],
    },
  ],
};

export const twilioSmsCases: CaseTable = {
  adapter: 'twilio-sms',
  env: { SMS_PIN_ENABLED: 'true' },
  cases: [
    {
      name: 'a keyword with its PIN: the reply as TwiML, without the PIN',
      threat: 'T6',
      steps: [
        {
          path: TW_SMS,
          form: tw('+254711000002', 'BAL 2468'),
          sign: true,
          status: 200,
          body: /^<\?xml version="1\.0" encoding="UTF-8"\?><Response><Message>[^<]*KES 3,000\.00[^<]*<\/Message><\/Response>$/,
        },
      ],
    },
    {
      name: 'a forged or missing signature: 403 and nothing runs',
      threat: 'T2',
      steps: [
        { path: TW_SMS, form: tw('+254711000002', 'BAL 2468'), sign: 'forged', status: 403, body: 'forbidden' },
        { path: TW_SMS, form: tw('+254711000002', 'BAL 2468'), status: 403, body: 'forbidden' },
      ],
    },
    {
      name: 'malformed: 400 bad request',
      threat: 'T22',
      steps: [{ path: TW_SMS, form: { From: '+254711000002', Body: 'HELP' }, sign: true, status: 400, body: 'bad request' }],
    },
    {
      name: 'a WhatsApp sender: an empty TwiML answer',
      steps: [
        {
          path: TW_SMS,
          form: tw('whatsapp:+254711000002', 'HELP'),
          sign: true,
          status: 200,
          body: '<?xml version="1.0" encoding="UTF-8"?><Response/>',
        },
      ],
    },
  ],
};
