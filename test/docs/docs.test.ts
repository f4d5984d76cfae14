import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

/**
 * docs/architecture.md and docs/threats.md name source files, folders and tests. These checks keep the names
 * true: every `src/...` or `test/...` path they mention exists, and every test they cite (`file` › "title")
 * still has that title, so a renamed or deleted test shows up here instead of silently leaving a threat
 * undefended on paper.
 */

const DOCS = ['docs/architecture.md', 'docs/threats.md'] as const;
const read = (file: string) => readFileSync(file, 'utf8');

/** Every `src/...` and `test/...` path named in `text`, placeholders (`<provider>`, `*`) skipped. */
export function pathsIn(text: string): string[] {
  const found = new Set<string>();
  for (const m of text.matchAll(/(?<![\w/.-])(?:src|test)\/[A-Za-z0-9_./<>*{}-]*/g)) {
    let path = m[0].replace(/[.,:;)]+$/, '');
    if (/[<>*{}]/.test(path)) continue;
    path = path.replace(/\/$/, '');
    found.add(path);
  }
  return [...found].sort();
}

/** The tests cited as `file` › "title" (one per line; the title runs to the last double quote). */
export function citedTests(text: string): { file: string; title: string }[] {
  const out: { file: string; title: string }[] = [];
  for (const line of text.split('\n')) {
    const m = /`(test\/[^`]+\.ts)`\s*›\s*"(.*)"/.exec(line);
    if (m) out.push({ file: m[1]!, title: m[2]! });
  }
  return out;
}

/** The text of a test file with string escapes of quotes undone, so titles compare as written. */
const testSource = (file: string) => read(file).replace(/\\(['"`])/g, '$1');

describe('docs/architecture.md and docs/threats.md', () => {
  for (const doc of DOCS) {
    it(`should name only src/ and test/ paths that exist (${doc})`, () => {
      const paths = pathsIn(read(doc));
      expect(paths.length).toBeGreaterThan(10);
      expect(paths.filter((p) => !existsSync(p))).toEqual([]);
    });
  }

  it('should cite only tests that exist, by file and exact title', () => {
    const cited = citedTests(read('docs/threats.md'));
    expect(cited.length).toBeGreaterThan(50);
    const missing = cited.filter(({ file, title }) => !existsSync(file) || !testSource(file).includes(title));
    expect(missing).toEqual([]);
  });

  it('should give every threat T1 to T33 its own entry, with a test or a plain "not built" / "pending"', () => {
    const text = read('docs/threats.md');
    const sections = text.split(/^## /m).slice(1);
    const ids = sections.map((s) => /^T(\d+) /.exec(s)?.[1]).map(Number);
    expect(ids).toEqual(Array.from({ length: 33 }, (_, i) => i + 1));
    for (const section of sections) {
      const id = section.split(' ')[0];
      const hasTest = citedTests(section).length > 0;
      const saysSo = /Not built yet\.|Test: \(pending\)/.test(section);
      expect([id, hasTest || saysSo]).toEqual([id, true]);
    }
  });

  it('should never point outside the repository', () => {
    for (const doc of DOCS) {
      const text = read(doc);
      expect([doc, /\/work\/|shared\/|reference\/[a-z-]+\.md|\.\.\//.test(text)]).toEqual([doc, false]);
    }
  });
});

describe('the checks themselves', () => {
  it('should find paths and cited tests, and skip placeholders', () => {
    expect(pathsIn('see `src/app.ts`, src/engine/ and src/channels/<provider>-<channel>.ts or src/engine/registry*.ts.')).toEqual([
      'src/app.ts',
      'src/engine',
    ]);
    expect(citedTests('- `test/a.test.ts` › "should say "hi" twice"\n- nothing here')).toEqual([
      { file: 'test/a.test.ts', title: 'should say "hi" twice' },
    ]);
  });
});
