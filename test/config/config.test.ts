import { readFileSync } from 'node:fs';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { z } from 'zod';
import { ConfigError, configSchema, loadConfig, withSettingsTable, type Config } from '../../src/config.js';

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
        loadConfig({
          PORT: 'eighty',
          FINERACT_URL: 'ftp://x',
          PIN_PEPPER: 'short',
          LOG_LEVEL: 'loud',
          TRANSFER_MIN: '100',
          TRANSFER_MAX: '50',
        });
      } catch (e) {
        return e;
      }
    })() as ConfigError;
    expect(error).toBeInstanceOf(ConfigError);
    const text = error.problems.join('\n');
    for (const name of ['PORT', 'FINERACT_URL', 'PIN_PEPPER', 'LOG_LEVEL', 'TRANSFER_MIN']) expect(text).toContain(name);
    expect(error.message).not.toContain('short');
  });

  it('should type the configuration end to end: one zod schema over the environment yields Config', () => {
    expectTypeOf<Config>().toEqualTypeOf<z.output<typeof configSchema>>();
    expectTypeOf<Config['port']>().toEqualTypeOf<number>();
    expectTypeOf<Config['messagingProvider']>().toEqualTypeOf<'sandbox' | 'africastalking' | 'twilio'>();
    const parsed = configSchema.safeParse({ PORT: '8081', TRANSFER_MIN: '20', FINERACT_SAVINGS_PRODUCTS: '' });
    expect(parsed.success).toBe(true);
    expect(parsed.data?.port).toBe(8081);
    expect(parsed.data?.limits.minCents).toBe(2000);
    // An empty product list means every product, also with the sandbox.
    expect(parsed.data?.fineract.savingsProductIds).toBeUndefined();
    expect(parsed.data?.fineract.loanProductIds).toEqual([1]);
    expect(readFileSync('src/config.ts', 'utf8')).not.toMatch(/as never|Record<SettingName, never>/);
  });

  it('should report a bad product list and a bad read replica by name', () => {
    const problems = (() => {
      try {
        loadConfig({
          FINERACT_LOAN_PRODUCTS: '1,x',
          FINERACT_URL: 'https://f.example/api',
          FINERACT_READ_URLS: 'ftp://r',
          PIN_PEPPER: 'p'.repeat(16),
          KIUNGA_ALLOW_INSECURE: 'messaging,callback-key,fineract-password,sim-swap',
        });
      } catch (e) {
        return (e as ConfigError).problems;
      }
      return [];
    })();
    expect(problems.sort()).toEqual([
      'FINERACT_LOAN_PRODUCTS: must be comma-separated product ids',
      "FINERACT_READ_URLS: 'ftp://r' is not an http(s) URL",
    ]);
  });

  it('should not call a variable that was given but is invalid missing', () => {
    const problems = (() => {
      try {
        loadConfig({ SIM_SWAP_PROVIDER: 'africastalking', AT_CALLBACK_KEY: 'short' });
      } catch (e) {
        return (e as ConfigError).problems;
      }
      return [];
    })();
    expect(problems).toEqual([
      'AT_CALLBACK_KEY: must be at least 16 characters',
      'AT_API_KEY: required with SIM_SWAP_PROVIDER=africastalking',
    ]);
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
        else if (path.endsWith('.ts') && path !== join('src', 'config.ts') && readFileSync(path, 'utf8').includes('process.env'))
          offenders.push(path);
      }
    };
    walk('src');
    expect(offenders).toEqual([]);
  });
});
