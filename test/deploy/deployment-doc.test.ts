import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

/**
 * docs/deployment.md names source files, tests and deploy files, and quotes test titles as evidence (Redis
 * Cluster slots, the shared rate limit). These checks keep those names true, so that a renamed or deleted
 * test does not leave a claim of the guide unsupported.
 */

const doc = readFileSync('docs/deployment.md', 'utf8');

describe('docs/deployment.md', () => {
  it('names only files that exist', () => {
    const paths = new Set<string>();
    for (const m of doc.matchAll(/(?<![\w/.-])(?:src|test|deploy|bench|docs)\/[A-Za-z0-9_./-]*/g)) {
      const path = m[0].replace(/[.,:;)]+$/, '').replace(/\/$/, '');
      // The operator's own files, not committed: the certificate and the filled-in env files.
      if (/^deploy\/tls\//.test(path) || /^deploy\/[^/]*\.env$/.test(path)) continue;
      paths.add(path);
    }
    expect(paths.size).toBeGreaterThan(10);
    // docs/performance.md and docs/resilience.md come from other work of issue 13; the guide says so.
    const missing = [...paths].filter((p) => !existsSync(p) && !['docs/performance.md', 'docs/resilience.md'].includes(p));
    expect(missing).toEqual([]);
  });

  it('quotes test titles that the named test files hold', () => {
    const quoted = [...doc.matchAll(/`(test\/[^`]+\.ts)`: "([^"]+)"/g)].map((m) => ({ file: m[1]!, title: m[2]!.replace(/\s+/g, ' ') })); // a title may wrap in the guide
    expect(quoted.length).toBeGreaterThan(0);
    for (const { file, title } of quoted) expect(readFileSync(file, 'utf8'), `${file}: "${title}"`).toContain(title);
  });

  it('says plainly that deploy/compose.yaml was not run', () => {
    expect(doc).toContain('**deploy/compose.yaml was not run.**');
  });
});
