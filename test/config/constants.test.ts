import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * Defaults live in one place: settings.ts (what an operator may change) reading src/constants.ts (the rest).
 * The sandbox's demo data (a Kenyan tenant) is exempt.
 */
const SCATTERED = [
  { what: 'the default country', pattern: /'KE'/ },
  { what: 'the default currency', pattern: /'KES'/ },
  { what: 'the default time zone', pattern: /'Africa\/Nairobi'/ },
  { what: "Kenya's calling code", pattern: /'\+254'/ },
  { what: 'the navigation keys', pattern: /more: '98'|home: '00'|home: '\*'/ },
  { what: 'the SMS part budget', pattern: /(maxSegments|smsSegments)(: | \?\? )2\b|'sms-segments', 2\)/ },
  { what: 'a pace margin', pattern: /paceMargin(: | \?\? )0\.\d/ },
];

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return path === join('src', 'sandbox') ? [] : sources(path);
    return path.endsWith('.ts') && path !== join('src', 'constants.ts') ? [path] : [];
  });
}

describe('defaults in one place', () => {
  it('should name each default in src/constants.ts or settings.ts, not as a literal in the code', () => {
    const found: string[] = [];
    for (const path of sources('src')) {
      const lines = readFileSync(path, 'utf8').split('\n');
      lines.forEach((line, i) => {
        for (const { what, pattern } of SCATTERED) if (pattern.test(line)) found.push(`${path}:${i + 1}: ${what}`);
      });
    }
    expect(found).toEqual([]);
  });
});
