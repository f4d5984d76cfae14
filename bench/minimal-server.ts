/**
 * The benchmark's baseline: the least a USSD server on this stack can do per hop. Express 5 parses the
 * form, ioredis does one GET and one SET of the session, and the balance hop makes one
 * `GET /savingsaccounts/{id}` to the same Fineract sandbox Kiunga uses. No PIN check, no flow engine.
 */
import express from 'express';
import { Redis } from 'ioredis';
import { Pool } from 'undici';

const port = Number(process.env.PORT ?? 3100);
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const fineractUrl = new URL(process.env.FINERACT_URL ?? 'http://127.0.0.1:8080/fineract-provider/api/v1');
const fineract = new Pool(fineractUrl.origin, { connections: 64 });
const auth = `Basic ${Buffer.from('mifos:password').toString('base64')}`;
const prefix = process.env.REDIS_PREFIX ?? 'bench-minimal';

const app = express();
app.use(express.urlencoded({ extended: false, limit: '16kb' }));
app.post('/channels/africastalking/ussd', async (req, res) => {
  const { sessionId, text } = req.body as Record<string, string>;
  const key = `${prefix}:{${sessionId}}:session`;
  const previous = await redis.get(key);
  let reply: string;
  if (!text) reply = 'CON Welcome. Enter your PIN:';
  else if (!text.includes('*')) reply = 'CON Main menu\n1. Balance\n2. Mini statement\n3. Language';
  else {
    const { body } = await fineract.request({
      method: 'GET',
      path: `${fineractUrl.pathname}/savingsaccounts/1`,
      headers: { authorization: auth, 'fineract-platform-tenantid': 'default', accept: 'application/json' },
    });
    const account = (await body.json()) as { summary: { availableBalance: number } };
    reply = `END Balance: KES ${account.summary.availableBalance.toFixed(2)}`;
  }
  await redis.set(key, JSON.stringify({ text, previous: previous?.length ?? 0 }), 'EX', 180);
  res.type('text/plain').send(reply);
});
app.listen(port, '127.0.0.1', () => process.stdout.write(`listening ${port}\n`));
