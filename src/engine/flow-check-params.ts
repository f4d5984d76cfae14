import { errorCodeParam, FLOW_ERROR_CODES } from './registry.js';
import type { Manifest } from './manifest.js';
import type { AddProblem } from './flow-problems.js';

/**
 * The parameters a flow gives an action or guard, checked against its manifest (type, missing or unknown keys,
 * an `errorIs` code outside the closed set), with "did you mean" suggestions for misspelt values.
 */

/** Levenshtein distance, for "did you mean". */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const next = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = row[j]!;
      row[j] = next;
    }
  }
  return row[b.length]!;
}

/** The known value closest to a misspelt one, if one is close. */
export function closest(value: string, known: readonly string[]): string | undefined {
  const scored = known.map((k) => ({ k, d: distance(value.toLowerCase(), k.toLowerCase()) }));
  const best = scored.filter((x) => x.d <= Math.max(2, Math.floor(x.k.length / 3))).sort((a, b) => a.d - b.d)[0];
  return best?.k;
}

/** ` (did you mean 'pin-wrong'? known: …)` when one known value is close, else ` (known: …)`. */
export function suggest(value: string, known: readonly string[]): string {
  const near = closest(value, known);
  const list = `known: ${[...known].sort().join(', ')}`;
  return near ? ` (did you mean '${near}'? ${list})` : ` (${list})`;
}

/** Checks `params` against the manifest's schema and reports each issue under the rule that names it. */
export function checkParams(
  add: AddProblem,
  path: (string | number)[],
  kind: string,
  name: string,
  manifest: Manifest,
  params: Record<string, unknown> | undefined,
): void {
  if (!manifest.params) {
    if (params && Object.keys(params).length > 0) add([...path, 'params'], `${kind} '${name}' takes no params`, 'param-type');
    return;
  }
  const parsed = manifest.params.safeParse(params ?? {});
  if (parsed.success) return;
  for (const issue of parsed.error.issues) {
    const key = String(issue.path[0] ?? '');
    const given = params?.[key];
    const isErrorCode = manifest.params.shape[key] === errorCodeParam;
    if (issue.code === 'unrecognized_keys') {
      add(
        [...path, 'params'],
        `${kind} '${name}' has no params ${issue.keys.join(', ')} (it takes ${Object.keys(manifest.params.shape).join(', ')})`,
        'param-type',
      );
    } else if (given === undefined) {
      add(params ? [...path, 'params'] : path, `${kind} '${name}' needs params.${key}`, 'param-missing');
    } else if (issue.code === 'invalid_value' && typeof given !== 'string') {
      const values = isErrorCode ? 'an error code' : `one of ${issue.values.map(String).join(', ')}`;
      add(
        [...path, 'params', key],
        `${kind} '${name}' params.${key}: ${JSON.stringify(given)} is a ${typeof given}, not ${values}`,
        'param-type',
      );
    } else if (issue.code === 'invalid_value' && isErrorCode) {
      add(
        [...path, 'params', key],
        `${kind} '${name}': '${String(given)}' is not an error code actors reject with${suggest(String(given), FLOW_ERROR_CODES)}`,
        'unknown-error-code',
      );
    } else if (issue.code === 'invalid_value') {
      const values = issue.values.map(String);
      const near = closest(String(given), values);
      add(
        [...path, 'params', key],
        `${kind} '${name}' params.${key}: '${String(given)}' is not one of ${values.join(', ')}${near ? ` (did you mean '${near}'?)` : ''}`,
        'param-type',
      );
    } else {
      add([...path, 'params', key], `${kind} '${name}' params.${key}: ${issue.message}`, 'param-type');
    }
  }
}
