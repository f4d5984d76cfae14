import { readFile, writeFile } from 'node:fs/promises';
import { ANY_ACTOR_ERRORS, errorCodeParam, FLOW_ERROR_CODES, FLOW_MANIFESTS } from '../engine/registry.js';
import type { Manifest, ManifestSet } from '../engine/manifest.js';

/**
 * The reference of the names a flow may use, rendered from the registry's manifests into docs/flows.md
 * between two markers (`kiunga schema --docs` rewrites it; a test checks it is current).
 */

export const DOCS_START = '<!-- registry:start (generated from the manifests by `kiunga schema --docs`: do not edit) -->';
export const DOCS_END = '<!-- registry:end -->';

const code = (s: string) => `\`${s}\``;
const list = (names: readonly string[]) => names.map(code).join(', ');

function paramsOf(m: Manifest): string {
  if (!m.params) return '';
  return Object.entries(m.params.shape)
    .map(([name, schema]) => {
      const values = (schema as { options?: readonly unknown[] }).options;
      const closed = schema === errorCodeParam ? 'an error code' : values ? values.map(String).join(' \\| ') : 'value';
      return `${code(name)}: ${closed}`;
    })
    .join(', ');
}

function sets(m: Manifest): string {
  const parts: string[] = [];
  if (m.flags) parts.push(`flags ${list(Object.keys(m.flags))}`);
  if (m.views) parts.push(`view ${list(Object.keys(m.views))}`);
  for (const [name, l] of Object.entries(m.lists ?? {})) parts.push(`list ${code(name)} (rows: ${list(Object.keys(l.row))})`);
  if (m.keys) parts.push(`texts ${list(m.keys)}`);
  return parts.join('; ');
}

/** What an actor's manifest says about one-time codes (rule `step-up`). */
const codeNote = (m: Manifest) =>
  m.code === 'asks'
    ? '. Step-up: may ask for a one-time code (`code: asks`)'
    : m.code === 'checks'
      ? '. Checks a one-time code (`code: checks`)'
      : '';

/** The generated section, markers included. */
export function registryReference(manifests: ManifestSet = FLOW_MANIFESTS): string {
  const row = (name: string, m: Manifest, extra: string) => `| ${code(name)} | ${m.description.replace(/\|/g, '\\|')} | ${extra} |`;
  const lines = [
    DOCS_START,
    '',
    '**Actors** (`invoke.src`):',
    '',
    `| actor | what it does | rejects with (any actor may also reject with ${list(ANY_ACTOR_ERRORS)}) |`,
    '|---|---|---|',
    ...Object.entries(manifests.actors).map(([n, m]) => row(n, { ...m, description: m.description + codeNote(m) }, list(m.errors ?? []))),
    '',
    '**Actions** (`entry`, `exit`, `actions`):',
    '',
    '| action | what it does | params | sets |',
    '|---|---|---|---|',
    ...Object.entries(manifests.actions).map(([n, m]) => `${row(n, m, paramsOf(m))} ${sets(m)} |`),
    '',
    '**Guards** (`guard`):',
    '',
    '| guard | what it tests | params |',
    '|---|---|---|',
    ...Object.entries(manifests.guards).map(([n, m]) => row(n, m, paramsOf(m))),
    '',
    `**Error codes** (\`errorIs\`): ${list(FLOW_ERROR_CODES)}.`,
    '',
    DOCS_END,
  ];
  return lines.join('\n');
}

/** Replaces the generated section of `text` (which must have both markers). */
export function withRegistryReference(text: string, manifests: ManifestSet = FLOW_MANIFESTS): string {
  const start = text.indexOf(DOCS_START);
  const end = text.indexOf(DOCS_END);
  if (start < 0 || end < start) throw new Error(`no generated registry section (${DOCS_START} … ${DOCS_END})`);
  return text.slice(0, start) + registryReference(manifests) + text.slice(end + DOCS_END.length);
}

/** Rewrites the generated section of a docs file; resolves whether it changed. */
export async function writeRegistryReference(file: string): Promise<boolean> {
  const before = await readFile(file, 'utf8');
  const after = withRegistryReference(before);
  if (after !== before) await writeFile(file, after);
  return after !== before;
}
