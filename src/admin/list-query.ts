import type { Request, Response } from 'express';

/**
 * The query of a listing route (`?state=...&limit=...`): `state` one of `states` (`fallback` when absent),
 * `limit` 1 to 500 (50 when absent). Answers 400 with what is wrong and returns undefined otherwise.
 */
export function listQuery<S extends string>(
  req: Request,
  res: Response,
  states: readonly S[],
  fallback: S,
): { state: S; limit: number } | undefined {
  const state = String(req.query.state ?? fallback);
  if (!(states as readonly string[]).includes(state)) {
    res.status(400).json({ error: `state must be one of ${states.join(', ')}` });
    return undefined;
  }
  const limit = Number(req.query.limit ?? 50);
  if (!Number.isInteger(limit) || limit < 1 || limit > 500) {
    res.status(400).json({ error: 'limit must be 1 to 500' });
    return undefined;
  }
  return { state: state as S, limit };
}
