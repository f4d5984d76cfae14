/**
 * The benchmark's baseline: the least a USSD server on this stack can do per hop. Express 5 parses the
 * form, ioredis does one GET and one SET of the session, the balance hop makes one
 * `GET /savingsaccounts/{id}` and the confirming hop of a transfer one `POST /accounttransfers` to the
 * same Fineract sandbox Kiunga uses (baseline-fineract.ts). No PIN check, no flow engine, no limits, no
 * idempotency. `POST /channels/africastalking/sms` answers `BAL` with the same balance read, the reply kept
 * in memory (`GET /sandbox/outbox`, as Kiunga's sandbox messenger shows it) instead of a queue.
 */
import express from 'express';
import { Redis } from 'ioredis';
import { balanceLine, SCREENS, transfer } from './baseline-fineract.js';

const port = Number(process.env.PORT ?? 3100);
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const prefix = process.env.REDIS_PREFIX ?? 'bench-minimal';

const app = express();
app.use(express.urlencoded({ extended: false, limit: '16kb' }));
app.post('/channels/africastalking/ussd', async (req, res) => {
  const { sessionId, text, phoneNumber } = req.body as Record<string, string>;
  const key = `${prefix}:{${sessionId}}:session`;
  const previous = await redis.get(key);
  const parts = text ? text.split('*') : [];
  let reply: string;
  if (parts.length === 0) reply = `CON ${SCREENS.welcome}`;
  else if (parts.length === 1) reply = `CON ${SCREENS.menu}`;
  else if (parts[1] === '1') reply = `END Balance\n${await balanceLine(phoneNumber!)}`;
  else if (parts.length === 2) reply = `CON ${SCREENS.recipient}`;
  else if (parts.length === 3) reply = `CON ${SCREENS.amount}`;
  else if (parts.length === 4) reply = `CON ${SCREENS.confirm(parts[3]!)}`;
  else {
    const ok = await transfer(phoneNumber!, parts[2]!, parts[3]!, `bench ${sessionId}`);
    reply = `END ${ok ? SCREENS.done(parts[3]!) : SCREENS.failed}`;
  }
  await redis.set(key, JSON.stringify({ text: parts.length, previous: previous?.length ?? 0 }), 'EX', 180);
  res.type('text/plain').send(reply);
});

const outbox: { to: string; text: string; ref: string }[] = [];
app.post('/channels/africastalking/sms', async (req, res) => {
  const { from, text, id } = req.body as Record<string, string>;
  if (!from || !id) return void res.status(400).send('bad request');
  const reply = /^BAL\b/i.test(text ?? '') ? `Balance\n${await balanceLine(from)}` : 'Send BAL for your balance.';
  outbox.push({ to: from, text: reply, ref: `at:${id}` });
  if (outbox.length > 500_000) outbox.splice(0, outbox.length - 500_000);
  res.type('text/plain').send('OK');
});
app.get('/sandbox/outbox', (_req, res) => void res.json(outbox));
app.listen(port, '127.0.0.1', () => process.stdout.write(`listening ${port}\n`));
// The benchmark stops its servers with SIGTERM; exiting normally lets `--cpu-prof` write its profile.
process.on('SIGTERM', () => process.exit(0));
