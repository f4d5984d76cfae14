/**
 * The benchmark's baseline: the least a USSD server on this stack can do per hop. Express 5 parses the
 * form, ioredis does one GET and one SET of the session, the balance hop makes one
 * `GET /savingsaccounts/{id}` and the confirming hop of a transfer one `POST /accounttransfers` to the
 * same Fineract sandbox Kiunga uses. No PIN check, no flow engine, no limits, no idempotency.
 */
import express from 'express';
import { Redis } from 'ioredis';
import { Pool } from 'undici';

const port = Number(process.env.PORT ?? 3100);
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const fineractUrl = new URL(process.env.FINERACT_URL ?? 'http://127.0.0.1:8080/fineract-provider/api/v1');
const fineract = new Pool(fineractUrl.origin, { connections: 64 });
const headers = {
  authorization: `Basic ${Buffer.from('mifos:password').toString('base64')}`,
  'fineract-platform-tenantid': 'default',
  accept: 'application/json',
  'content-type': 'application/json',
};
const prefix = process.env.REDIS_PREFIX ?? 'bench-minimal';
/** Synthetic sandbox customer i has the number +254720 + 6 digits and savings account 10000 + i. */
const accountOf = (msisdn: string) => 10_000 + Number(msisdn.slice(-6));

const app = express();
app.use(express.urlencoded({ extended: false, limit: '16kb' }));
app.post('/channels/africastalking/ussd', async (req, res) => {
  const { sessionId, text, phoneNumber } = req.body as Record<string, string>;
  const key = `${prefix}:{${sessionId}}:session`;
  const previous = await redis.get(key);
  const parts = text ? text.split('*') : [];
  let reply: string;
  if (parts.length === 0) reply = 'CON Welcome. Enter your PIN:';
  else if (parts.length === 1) reply = 'CON Main menu\n1. Balance\n2. Mini statement\n3. Send money';
  else if (parts[1] === '1') {
    const { body } = await fineract.request({
      method: 'GET',
      path: `${fineractUrl.pathname}/savingsaccounts/${accountOf(phoneNumber!)}`,
      headers,
    });
    const account = (await body.json()) as { summary: { availableBalance: number } };
    reply = `END Balance: KES ${account.summary.availableBalance.toFixed(2)}`;
  } else if (parts.length < 5) reply = 'CON Next:';
  else {
    const from = accountOf(phoneNumber!);
    const to = accountOf(parts[2]!);
    const { body, statusCode } = await fineract.request({
      method: 'POST',
      path: `${fineractUrl.pathname}/accounttransfers`,
      headers,
      body: JSON.stringify({
        fromOfficeId: 1,
        fromClientId: from,
        fromAccountType: 2,
        fromAccountId: from,
        toOfficeId: 1,
        toClientId: to,
        toAccountType: 2,
        toAccountId: to,
        transferAmount: parts[3],
        transferDate: new Date().toISOString().slice(0, 10),
        dateFormat: 'yyyy-MM-dd',
        locale: 'en',
        transferDescription: `bench ${sessionId}`,
      }),
    });
    await body.text();
    reply = statusCode === 200 ? 'END Done' : `END Failed ${statusCode}`;
  }
  await redis.set(key, JSON.stringify({ text: parts.length, previous: previous?.length ?? 0 }), 'EX', 180);
  res.type('text/plain').send(reply);
});
app.listen(port, '127.0.0.1', () => process.stdout.write(`listening ${port}\n`));
