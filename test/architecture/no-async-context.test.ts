/**
 * No ambient async context in src/: an AsyncLocalStorage (or any async hook, or V8's promise hooks) turns on
 * promise hooks for the whole process, measured as the largest CPU cost of a hop (docs/performance.md, "The
 * hop's async context"). The hop's context is passed explicitly (src/session/hop-context.ts).
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve(import.meta.dirname, '../../src');
/** What would make a process-wide async context, in code (comments are left out: the sandbox names Fineract's `createHook`). */
const FORBIDDEN = /\basync_hooks\b|\bAsyncLocalStorage\b|\bAsyncResource\b|\bcreateHook\b|\bpromiseHooks\b/;

/** Block comments, and line comments that start a line or follow a space (not the `//` of a URL in a string). */
const withoutComments = (code: string) => code.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|\s)\/\/.*$/gm, '$1');

async function sources(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const nested = await Promise.all(
    entries.map((e) =>
      e.isDirectory() ? sources(join(dir, e.name)) : Promise.resolve(/\.[cm]?[jt]s$/.test(e.name) ? [join(dir, e.name)] : []),
    ),
  );
  return nested.flat();
}

describe('the hop context', () => {
  it('is never an async context: no AsyncLocalStorage, async hook or promise hook anywhere under src/', async () => {
    const files = await sources(SRC);
    expect(files.length).toBeGreaterThan(100);
    const offending: string[] = [];
    for (const file of files) {
      const code = withoutComments(await readFile(file, 'utf8'));
      const match = FORBIDDEN.exec(code);
      if (match) offending.push(`${file.slice(SRC.length + 1)}: ${match[0]}`);
    }
    expect(offending).toEqual([]);
  });

  it('would find one', () => {
    expect(FORBIDDEN.test(withoutComments("import { AsyncLocalStorage } from 'node:async_hooks';"))).toBe(true);
    expect(FORBIDDEN.test(withoutComments("import { promiseHooks } from 'node:v8';"))).toBe(true);
    expect(FORBIDDEN.test(withoutComments('// AsyncLocalStorage, in a comment only'))).toBe(false);
  });
});
