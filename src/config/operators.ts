import { csv } from '../settings/schemas.js';

/** The admin API's operators (threat T17): read from ADMIN_TOKENS and ADMIN_TOKEN, and what is wrong with them. */

/** An operator of the admin API: the name audited with each call, and the bearer token. */
export interface Operator {
  name: string;
  token: string;
}

const OPERATOR_NAME = /^[a-z0-9._-]{1,32}$/;
/** Shortest operator token against a real Fineract (ADMIN_TOKEN's own minimum, 16, stays for the sandbox). */
const PRODUCTION_TOKEN_MIN = 24;

/** ADMIN_TOKENS entries as written (`name:token`); the token may itself hold `:`. */
function operatorEntries(tokens: string | undefined): { name: string; token: string }[] {
  return csv(tokens).map((entry) => {
    const at = entry.indexOf(':');
    return at < 0 ? { name: entry, token: '' } : { name: entry.slice(0, at).trim(), token: entry.slice(at + 1).trim() };
  });
}

/** The operators with the setting each comes from: ADMIN_TOKENS, plus ADMIN_TOKEN as the operator `admin`. */
function labelledOperators(tokens: string | undefined, legacy: string | undefined): (Operator & { from: string })[] {
  const out = operatorEntries(tokens).map((o, i) => ({ ...o, from: `ADMIN_TOKENS: entry ${i + 1}` }));
  if (legacy) out.push({ name: 'admin', token: legacy, from: "ADMIN_TOKEN (the operator 'admin')" });
  return out;
}

export function operatorsOf(tokens: string | undefined, legacy: string | undefined): Operator[] {
  return labelledOperators(tokens, legacy).map(({ name, token }) => ({ name, token }));
}

/** What is wrong with the operators; the messages name entries by position, never echo a token. */
export function operatorProblems(tokens: string | undefined, legacy: string | undefined, production: boolean): string[] {
  const out: string[] = [];
  const min = production ? PRODUCTION_TOKEN_MIN : 16;
  const names = new Set<string>();
  const secrets = new Set<string>();
  for (const { name, token, from } of labelledOperators(tokens, legacy)) {
    if (!OPERATOR_NAME.test(name)) out.push(`${from}: the name must be 1 to 32 of a-z 0-9 . _ - (name:token)`);
    else if (names.has(name)) out.push(`${from}: operator '${name}' is named twice`);
    if (token.length < min)
      out.push(`${from}: the token must be at least ${min} characters${production ? ' against a real Fineract (FINERACT_URL)' : ''}`);
    else if (secrets.has(token)) out.push(`${from}: two operators share one token (each operator needs their own)`);
    names.add(name);
    secrets.add(token);
  }
  return out;
}
