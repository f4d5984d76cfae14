import { readdir, readFile } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import { isMap, isNode, isScalar, LineCounter, parseDocument, type Document } from 'yaml';

/**
 * Locale files read for authoring tools: the text of each `<lang>.json` with the line of every key, so lint
 * messages can point at `locales/fr.json:14`. Syntax errors are reported with their line, not thrown.
 */

export interface LocaleFile {
  lang: string;
  /** Path as shown in messages (relative to the working directory). */
  file: string;
  /** Problems that make the file unusable (syntax, shape); empty when it loaded. */
  errors: { line?: number; message: string }[];
  /** Line of a dot-path key (`pin.ask`), or of its nearest existing parent. */
  lineOf(key: string): number | undefined;
}

/** Reads every `<lang>.json` of `dir`, sorted by language. */
export async function readLocaleFiles(dir: string): Promise<LocaleFile[]> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.json')).sort();
  const out: LocaleFile[] = [];
  for (const name of names) {
    const path = join(dir, name);
    out.push(parseLocaleFile(relative(process.cwd(), path) || name, basename(name, '.json'), await readFile(path, 'utf8')));
  }
  return out;
}

export function parseLocaleFile(file: string, lang: string, source: string): LocaleFile {
  const lineCounter = new LineCounter();
  const errors: LocaleFile['errors'] = [];
  try {
    JSON.parse(source);
  } catch (error) {
    errors.push({ line: jsonErrorLine(source, error as Error), message: `syntax error: ${(error as Error).message}` });
  }
  // JSON is YAML: the YAML parser gives the position of every key.
  let doc: Document | undefined;
  if (errors.length === 0) {
    doc = parseDocument(source, { lineCounter, uniqueKeys: true, prettyErrors: false });
    for (const e of doc.errors) errors.push({ line: lineCounter.linePos(e.pos[0]).line, message: e.message.split('\n')[0]! });
    if (errors.length === 0) shapeErrors(doc, lineCounter, errors);
  }
  const lineOf = (key: string): number | undefined => {
    if (!doc) return undefined;
    const parts = key.split('.');
    for (let n = parts.length; n > 0; n--) {
      const parent = doc.getIn(parts.slice(0, n - 1), true);
      if (!isMap(parent)) continue;
      const pair = parent.items.find((p) => isScalar(p.key) && String(p.key.value) === parts[n - 1]);
      if (pair && isNode(pair.key) && pair.key.range) return lineCounter.linePos(pair.key.range[0]).line;
    }
    return undefined;
  };
  return { lang, file, errors, lineOf };
}

/** What createTranslator would refuse: only objects and strings, no empty or dotted keys. */
function shapeErrors(doc: Document, lc: LineCounter, errors: LocaleFile['errors']): void {
  const walk = (node: unknown, path: string) => {
    if (!isMap(node)) {
      const line = isNode(node) && node.range ? lc.linePos(node.range[0]).line : undefined;
      errors.push({ line, message: `${path || '(top level)'} must be an object of strings` });
      return;
    }
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : '';
      const at = path ? `${path}.${key}` : key;
      const line = isNode(pair.key) && pair.key.range ? lc.linePos(pair.key.range[0]).line : undefined;
      if (key === '' || key.includes('.')) errors.push({ line, message: `key "${at}" must not be empty or contain "."` });
      else if (isScalar(pair.value) && typeof pair.value.value === 'string') continue;
      else if (isMap(pair.value)) walk(pair.value, at);
      else errors.push({ line, message: `${at} must be a string or an object` });
    }
  };
  walk(doc.contents, '');
}

/** The line of a JSON.parse error, from the `position N` V8 puts in the message. */
function jsonErrorLine(source: string, error: Error): number | undefined {
  const m = /position (\d+)/.exec(error.message);
  if (m) return source.slice(0, Number(m[1])).split('\n').length;
  const lc = /line (\d+)/.exec(error.message);
  return lc ? Number(lc[1]) : undefined;
}
