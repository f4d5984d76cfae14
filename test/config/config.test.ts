import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, withSettingsTable } from '../../src/config.js';

describe('configuration', () => {
  it('should default everything for the sandbox', () => {
    const config = loadConfig({});
    expect(config.port).toBe(3000);
    expect(config.fineract.url).toBeUndefined();
    expect(config.redisUrl).toBeUndefined();
    expect(config.pin.usingDevelopmentPepper).toBe(true);
    expect(config.fineract.savingsProductIds).toEqual([1]);
    expect(Object.isFrozen(config.fineract)).toBe(true);
  });

  it('should report every problem at once, naming each variable, without echoing secrets', () => {
    const error = (() => {
      try {
        loadConfig({ PORT: 'eighty', FINERACT_URL: 'ftp://x', PIN_PEPPER: 'short', LOG_LEVEL: 'loud', TRANSFER_MIN: '100', TRANSFER_MAX: '50' });
      } catch (e) {
        return e;
      }
    })() as ConfigError;
    expect(error).toBeInstanceOf(ConfigError);
    const text = error.problems.join('\n');
    for (const name of ['PORT', 'FINERACT_URL', 'PIN_PEPPER', 'LOG_LEVEL', 'TRANSFER_MIN']) expect(text).toContain(name);
    expect(error.message).not.toContain('short');
  });

  it('should require PIN_PEPPER against a real Fineract', () => {
    expect(() => loadConfig({ FINERACT_URL: 'https://fineract.example/fineract-provider/api/v1' })).toThrow(/PIN_PEPPER/);
  });

  it('should keep the README settings table identical to the code', () => {
    const readme = readFileSync('README.md', 'utf8');
    expect(withSettingsTable(readme)).toBe(readme);
  });
});

describe('reading the environment', () => {
  it('should happen only in src/config.ts', async () => {
    const { readdirSync, statSync } = await import('node:fs');
    const { join } = await import('node:path');
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) walk(path);
        else if (path.endsWith('.ts') && path !== join('src', 'config.ts') && readFileSync(path, 'utf8').includes('process.env')) offenders.push(path);
      }
    };
    walk('src');
    expect(offenders).toEqual([]);
  });
});
