import { LineCounter, parseDocument, isNode } from 'yaml';
import type { z } from 'zod';

/**
 * What the YAML files the engine reads (flows, the product catalogue) share: parsing with line numbers, so a
 * syntax error or a schema issue points at the line an author has to fix.
 */

export type YamlPath = (string | number)[];

export type YamlSource =
  { ok: true; value: unknown; lineOf: (path: YamlPath) => number | undefined } | { ok: false; errors: { line: number; message: string }[] };

/**
 * Parses `source` (duplicate keys are errors). On success, `lineOf` answers the line of the deepest node of
 * `path` that exists; on failure, each syntax error with its line and the first line of its message.
 */
export function parseYamlSource(source: string): YamlSource {
  const lineCounter = new LineCounter();
  const doc = parseDocument(source, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return {
      ok: false,
      errors: doc.errors.map((e) => ({ line: lineCounter.linePos(e.pos[0]).line, message: `syntax error: ${e.message.split('\n')[0]}` })),
    };
  }
  const lineOf = (path: YamlPath): number | undefined => {
    for (let n = path.length; n >= 0; n--) {
      const node = doc.getIn(path.slice(0, n), true);
      if (isNode(node) && node.range) return lineCounter.linePos(node.range[0]).line;
    }
    return undefined;
  };
  return { ok: true, value: doc.toJS(), lineOf };
}

/** A schema issue as a path into the document and a message that names any unknown keys. */
export function schemaIssue(i: z.core.$ZodIssue): { path: YamlPath; message: string } {
  const path = i.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
  const keys = i.code === 'unrecognized_keys' ? ` (${(i as { keys: string[] }).keys.join(', ')})` : '';
  return { path, message: `${i.message}${keys}` };
}
