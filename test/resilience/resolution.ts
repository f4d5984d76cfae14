/**
 * A transfer left uncertain whose resolution job is running, for the scenarios that strike the worker running
 * it (kill.test.ts, job-partition.test.ts). The transfer commits and its answer is held back past
 * FINERACT_TIMEOUT_MS: the customer reads "being processed", the record stays uncertain, and its resolution job
 * runs callMaxMs + 1 s later. Then every Fineract answer comes 1.2 s late (under FINERACT_TIMEOUT_MS, so not a
 * failure): the job is active that long on whichever process's worker took it, named in the job (bullmq's
 * `processedBy`).
 */
import { expect } from 'vitest';
import { RESOLVE_JOB } from '../../src/jobs/catalogue.js';
import { jobInspector, type Deployment } from './cluster.js';
import { accountOf, type Traffic } from './traffic.js';

/** Sends `from`'s transfer and waits for its resolution job to run; the caller closes `jobs`. */
export async function resolutionRunning(d: Deployment, traffic: Traffic, from: number) {
  const intent = await traffic.transfer(from, from + 100, {
    beforeConfirm: async () => void (await d.sandbox.control({ timeoutAfterCommit: { count: 1, mode: 'delay', ms: 3000 } })),
  });
  expect(intent.replies.join(' | ')).toMatch(/being processed/);
  await d.sandbox.control({ latencyMs: 1200 });
  const jobs = jobInspector(d);
  try {
    const running = await jobs.activeJob(RESOLVE_JOB, (data) => data.clientId === accountOf(from), 20_000);
    const worker = d.kiunga.find((k) => k.workerName === running.processedBy);
    if (!worker) throw new Error(`no Kiunga process is ${running.processedBy}`);
    return { intent, jobs, running, worker };
  } catch (error) {
    await jobs.close();
    throw error;
  }
}
