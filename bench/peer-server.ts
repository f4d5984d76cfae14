/**
 * The benchmark's peer: what a developer would write with ussd-menu-builder (1.2.0), used safely. The
 * library keeps the request's arguments and result on the menu object, so one menu shared by concurrent
 * requests would answer one customer with another's screen: a menu is built per request. Its sessions live in
 * Redis through the library's `sessionConfig` (a hash per session, 180 s). The balance hop makes the same
 * `GET /savingsaccounts/{id}` and the confirming hop of a transfer the same `POST /accounttransfers` as the
 * minimal server (baseline-fineract.ts). Like the minimal server it checks no PIN and has no limits; it has
 * no SMS or voice channel.
 */
import express from 'express';
import { Redis } from 'ioredis';
import UssdMenu from 'ussd-menu-builder';
import { balanceLine, SCREENS, transfer } from './baseline-fineract.js';

const port = Number(process.env.PORT ?? 3200);
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const prefix = process.env.REDIS_PREFIX ?? 'bench-peer';
const TTL_S = 180;
const keyOf = (sessionId: string) => `${prefix}:{${sessionId}}:session`;

const sessions: UssdMenu.UssdSessionConfig = {
  start: async () => undefined,
  get: (sessionId, key) => redis.hget(keyOf(sessionId), key),
  set: async (sessionId, key, value) => {
    await redis.multi().hset(keyOf(sessionId), key, String(value)).expire(keyOf(sessionId), TTL_S).exec();
  },
  end: (sessionId) => redis.del(keyOf(sessionId)),
};

/** The menu of one request. A state's `run` may be async; the library does not await it, so it catches here. */
function buildMenu(): UssdMenu {
  const menu = new UssdMenu();
  menu.sessionConfig(sessions);
  const run = (fn: () => Promise<void>) => () => {
    fn().catch(() => menu.end('Sorry, the service is not available. Please try again later.'));
  };
  const phone = () => menu.args.phoneNumber;
  menu.startState({
    run: run(async () => {
      await menu.session.set('step', 'pin');
      menu.con(SCREENS.welcome);
    }),
    next: { '*^\\d{4}$': 'mainMenu' },
  });
  menu.state('mainMenu', {
    run: run(async () => {
      await menu.session.set('step', 'menu');
      menu.con(SCREENS.menu);
    }),
    next: { '1': 'balance', '3': 'recipient' },
  });
  menu.state('balance', { run: run(async () => menu.end(`Balance\n${await balanceLine(phone())}`)) });
  menu.state('recipient', {
    run: run(async () => {
      await menu.session.set('step', 'recipient');
      menu.con(SCREENS.recipient);
    }),
    next: { '*^0\\d{9}$': 'amount' },
  });
  menu.state('amount', {
    run: run(async () => {
      await menu.session.set('recipient', menu.val);
      menu.con(SCREENS.amount);
    }),
    next: { '*^\\d{1,7}$': 'confirm' },
  });
  menu.state('confirm', {
    run: run(async () => {
      await menu.session.set('amount', menu.val);
      menu.con(SCREENS.confirm(menu.val));
    }),
    next: { '*^\\d{4}$': 'transfer' },
  });
  menu.state('transfer', {
    run: run(async () => {
      const [recipient, amount] = await Promise.all([menu.session.get('recipient'), menu.session.get('amount')]);
      const ok = await transfer(phone(), String(recipient), String(amount), `bench ${menu.args.sessionId}`);
      menu.end(ok ? SCREENS.done(String(amount)) : SCREENS.failed);
    }),
  });
  return menu;
}

const app = express();
app.use(express.urlencoded({ extended: false, limit: '16kb' }));
app.post('/channels/africastalking/ussd', async (req, res) => {
  const { sessionId, serviceCode, phoneNumber, text } = req.body as Record<string, string>;
  if (!sessionId || !phoneNumber) return void res.status(400).send('bad request');
  const menu = buildMenu();
  const reply = await new Promise<string>((resolve) => {
    menu.on('error', () => resolve('END Sorry, the service is not available. Please try again later.'));
    void menu.run({ sessionId, serviceCode: serviceCode ?? '', phoneNumber, text: text ?? '' }).then(resolve);
  });
  res.type('text/plain').send(reply);
});
app.listen(port, '127.0.0.1', () => process.stdout.write(`listening ${port}\n`));
// The benchmark stops its servers with SIGTERM; exiting normally lets `--cpu-prof` write its profile.
process.on('SIGTERM', () => process.exit(0));
