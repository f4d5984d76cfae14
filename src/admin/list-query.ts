import type { Request, Response } from 'express';

/** How many rows a listing route returns. */
const LIMIT = { minimum: 1, maximum: 500, default: 50 } as const;

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
  const limit = Number(req.query.limit ?? LIMIT.default);
  if (!Number.isInteger(limit) || limit < LIMIT.minimum || limit > LIMIT.maximum) {
    res.status(400).json({ error: `limit must be ${LIMIT.minimum} to ${LIMIT.maximum}` });
    return undefined;
  }
  return { state: state as S, limit };
}

/** The same query in the OpenAPI document, so the bounds are described where they are checked. */
export function listQueryParameters(states: readonly string[], fallback: string): Record<string, unknown>[] {
  return [
    { name: 'state', in: 'query', schema: { enum: [...states], default: fallback } },
    { name: 'limit', in: 'query', schema: { type: 'integer', ...LIMIT } },
  ];
}
