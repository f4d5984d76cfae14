import type { Request, Response } from 'express';
import { sourceOf, type Admission } from '../limits/abuse.js';
import { refuse } from '../limits/refusals.js';
import type { ChannelDeps } from './channel-deps.js';

/**
 * The abuse check every channel route makes before any work: takes one token from the number's bucket and
 * the source's (unless the source is a trusted aggregator address). On refusal it marks and logs the
 * refusal (masked number) and sets `Retry-After`; the route then answers in its own polite way.
 */
export async function admit(deps: Pick<ChannelDeps, 'abuse' | 'logger'>, req: Request, res: Response, route: string, msisdn: string | undefined): Promise<Admission> {
  if (!deps.abuse) return { ok: true };
  const admission = await deps.abuse.admit({ source: sourceOf(req), msisdn });
  if (!admission.ok) {
    refuse(res, deps.logger, { route, reason: `${admission.bucket} limit`, msisdn });
    res.set('retry-after', String(admission.retryAfterS));
  }
  return admission;
}
