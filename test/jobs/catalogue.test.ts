/**
 * The job catalogue: every job's name has a schema, `add` and `handle` are typed by the name, and the worker
 * refuses for good (never retries, never runs the handler) a job whose data does not match its schema, such
 * as one queued by another version of Kiunga during a rolling deployment or edited in Redis. The log line
 * names the job and the field at fault, never the value.
 */
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import {
  APPROVAL_EXPIRE_JOB,
  APPROVAL_SETTLE_JOB,
  APPROVAL_WARN_JOB,
  CALL_JOB,
  HOOK_JOB,
  JOB_SCHEMAS,
  LOAN_HOOK_JOB,
  OTP_JOB,
  RESOLVE_JOB,
  SMS_JOB,
  type Jobs,
} from '../../src/jobs/catalogue.js';
import { createBullQueue, createMemoryQueue, type JobQueue } from '../../src/jobs/queue.js';
import { createRedisStore } from '../../src/session/redis-store.js';
import { REDIS_URL } from '../helpers/server.js';

function capturingLogger() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

const SECRET_LOOKING = 'not-a-number-9f3c';

describe('job catalogue', () => {
  it('should name every job Kiunga queues with a schema', () => {
    expect(Object.keys(JOB_SCHEMAS).sort()).toEqual(
      [
        CALL_JOB,
        HOOK_JOB,
        LOAN_HOOK_JOB,
        RESOLVE_JOB,
        SMS_JOB,
        OTP_JOB,
        APPROVAL_EXPIRE_JOB,
        APPROVAL_WARN_JOB,
        APPROVAL_SETTLE_JOB,
      ].sort(),
    );
  });

  it('should type add and handle by the job name', () => {
    const queue: JobQueue = createMemoryQueue({ logger: pino({ level: 'silent' }) });
    const typed = async () => {
      await queue.add(SMS_JOB, { to: '+254711000001', text: 'hi' });
      // @ts-expect-error: a call job needs its ref
      await queue.add(CALL_JOB, { to: '+254711000001' });
      // @ts-expect-error: no such job
      await queue.add('smss', { to: '+254711000001', text: 'hi' });
      queue.handle(RESOLVE_JOB, async (data: Jobs['resolveTransfer']) => void data.clientId.toFixed());
    };
    expect(typed).toBeTypeOf('function');
  });

  it('should refuse an in-process job whose data does not match its schema, without running or retrying it', async () => {
    const { logger, lines } = capturingLogger();
    const queue = createMemoryQueue({ logger });
    let runs = 0;
    queue.handle(RESOLVE_JOB, async () => void runs++);
    await queue.start();
    // As a job queued by code that does not match the catalogue (the cast stands for a caller out of step).
    await queue.add(RESOLVE_JOB, { clientId: SECRET_LOOKING, id: 'abc' } as never, { attempts: 5, backoffMs: 1 });
    await queue.add(RESOLVE_JOB, { clientId: 7, id: 'abc' });
    await queue.idle();
    await queue.close();
    expect(runs).toBe(1); // the valid one only
    const refused = lines.filter((l) => l.msg === 'job refused: not retried');
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({ job: RESOLVE_JOB, attempt: 1 });
    expect(JSON.stringify(refused[0])).toContain('clientId');
    expect(JSON.stringify(lines)).not.toContain(SECRET_LOOKING);
  });

  it('should refuse an in-process job whose name has no schema', async () => {
    const { logger, lines } = capturingLogger();
    const queue = createMemoryQueue({ logger });
    let runs = 0;
    (queue as unknown as JobQueue<{ ghost: object }>).handle('ghost', async () => void runs++);
    await queue.start();
    await (queue as unknown as JobQueue<{ ghost: object }>).add('ghost', {}, { attempts: 5, backoffMs: 1 });
    await queue.idle();
    await queue.close();
    expect(runs).toBe(0);
    expect(lines.filter((l) => l.msg === 'job refused: not retried')).toHaveLength(1);
  });
});

describe('job catalogue on bullmq (real Redis)', () => {
  const prefix = `kiunga-jobs-${randomBytes(4).toString('hex')}`;
  const store = createRedisStore(REDIS_URL);
  const raw = new Queue('jobs', { connection: new Redis(REDIS_URL, { maxRetriesPerRequest: null }), prefix: `{${prefix}:bull}` });

  afterAll(async () => {
    await raw.obliterate({ force: true }).catch(() => undefined);
    await raw.close();
    await store.close();
  });

  it('should fail for good a job another version queued with data out of the catalogue, and run the valid one', async () => {
    const { logger } = capturingLogger();
    await store.ping();
    const queue = createBullQueue({ redis: store.client, prefix, logger });
    const sent: Jobs['sms'][] = [];
    queue.handle(SMS_JOB, async (data) => void sent.push(data));
    // Written straight to Redis, as another version of Kiunga would: `to` is not a string.
    await raw.add(SMS_JOB, { to: 254711000001, text: 'old shape' }, { attempts: 5, backoff: { type: 'fixed', delay: 10 } });
    await queue.add(SMS_JOB, { to: '+254711000001', text: 'new shape', ref: 'r1' }, { attempts: 5 });
    await queue.start();
    await queue.idle(15_000);
    const failed = await raw.getFailed();
    await queue.close();
    expect(sent).toEqual([{ to: '+254711000001', text: 'new shape', ref: 'r1' }]);
    expect(failed).toHaveLength(1);
    expect(failed[0]!.attemptsMade).toBe(1); // unrecoverable: not retried
    expect(failed[0]!.failedReason).toMatch(/^invalid sms job: to: invalid_type/);
  });
});
