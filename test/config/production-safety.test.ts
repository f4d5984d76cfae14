import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/index.js';
import { startTestServer } from '../helpers/server.js';

/**
 * Threat T27: against a real Fineract (FINERACT_URL set) Kiunga refuses to start while a setting is unsafe,
 * naming every one in a single message, unless KIUNGA_ALLOW_INSECURE acknowledges it; the sandbox-only routes
 * exist exactly when the sandbox is in use.
 */

const PEPPER = 'pepper-0123456789abcdef';
const REAL = 'https://fineract.example/fineract-provider/api/v1';
const SAFE = {
  FINERACT_URL: REAL,
  PIN_PEPPER: PEPPER,
  FINERACT_PASSWORD: 'a-real-service-password',
  MESSAGING_PROVIDER: 'africastalking',
  AT_USERNAME: 'kiunga-prod',
  AT_API_KEY: 'at-api-key-0123456789',
  AT_VOICE_NUMBER: '+254711082000',
  AT_CALLBACK_KEY: 'at-callback-key-0123456789',
  SIM_SWAP_PROVIDER: 'africastalking',
};
const ALL = 'messaging,callback-key,fineract-password,sim-swap';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  return [];
}

describe('unsafe settings against a real Fineract (threat T27)', () => {
  it('should refuse the defaults with one message naming every unsafe setting', () => {
    const problems = problemsOf({ FINERACT_URL: REAL, PIN_PEPPER: PEPPER });
    const unsafe = problems.filter((p) => p.includes('T27'));
    expect(unsafe).toHaveLength(1);
    for (const name of ['MESSAGING_PROVIDER=sandbox', 'AT_CALLBACK_KEY', 'FINERACT_PASSWORD', 'SIM_SWAP_PROVIDER=none'])
      expect(unsafe[0]).toContain(name);
    expect(unsafe[0]).toContain(`KIUNGA_ALLOW_INSECURE=${ALL}`);
  });

  it('should name only what is still unsafe, and start when each is fixed or acknowledged', () => {
    expect(problemsOf(SAFE)).toEqual([]);
    const one = problemsOf({ ...SAFE, FINERACT_PASSWORD: 'password' });
    expect(one).toHaveLength(1);
    expect(one[0]).toContain('FINERACT_PASSWORD');
    expect(one[0]).not.toMatch(/MESSAGING_PROVIDER|AT_CALLBACK_KEY|SIM_SWAP_PROVIDER/);
    expect(one[0]).toContain('KIUNGA_ALLOW_INSECURE=fineract-password');
    const config = loadConfig({ FINERACT_URL: REAL, PIN_PEPPER: PEPPER, KIUNGA_ALLOW_INSECURE: ALL });
    expect(config.allowInsecure).toEqual(ALL.split(','));
    expect(config.simSwap.provider).toBe('none');
    // A partial acknowledgement leaves the rest named.
    const partial = problemsOf({ FINERACT_URL: REAL, PIN_PEPPER: PEPPER, KIUNGA_ALLOW_INSECURE: 'messaging, callback-key' }).join('\n');
    expect(partial).not.toMatch(/MESSAGING_PROVIDER|AT_CALLBACK_KEY/);
    expect(partial).toMatch(/FINERACT_PASSWORD[\s\S]*SIM_SWAP_PROVIDER/);
  });

  it('should count the sandbox SIM-swap list as no check, and refuse unknown acknowledgement words', () => {
    expect(problemsOf({ ...SAFE, SIM_SWAP_PROVIDER: 'sandbox' }).join('\n')).toContain('SIM_SWAP_PROVIDER=sandbox');
    const unknown = problemsOf({ ...SAFE, KIUNGA_ALLOW_INSECURE: 'messaging,everything' });
    expect(unknown).toEqual([expect.stringMatching(/^KIUNGA_ALLOW_INSECURE: unknown word 'everything'/)]);
  });

  it('should require the AT credentials and the callback key for the AT SIM-swap check', () => {
    const problems = problemsOf({ SIM_SWAP_PROVIDER: 'africastalking' }).join('\n');
    expect(problems).toMatch(/AT_API_KEY: required with SIM_SWAP_PROVIDER=africastalking/);
    expect(problems).toMatch(/AT_CALLBACK_KEY: required with SIM_SWAP_PROVIDER=africastalking/);
  });

  it('should keep the sandbox as it is without FINERACT_URL', () => {
    const config = loadConfig({});
    expect(config.simSwap.provider).toBe('sandbox');
    expect(config.simulator).toBe(true);
    expect(loadConfig(SAFE).simulator).toBe(false);
    expect(loadConfig({ ...SAFE, SIMULATOR: 'true' }).simulator).toBe(true);
  });
});

describe('kiunga serve against a real Fineract', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await startSandbox({ port: 0 });
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  /** Runs `kiunga serve` until it exits or its health check answers; returns its exit code (null: it started). */
  async function serve(env: Record<string, string>): Promise<{ code: number | null; stderr: string; stdout: string; health?: number }> {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'serve'], {
      env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const listening = new Promise<number>((resolve) => {
      child.stdout.on('data', () => {
        const m = /"port":(\d+)[^\n]*"msg":"kiunga listening"/.exec(stdout);
        if (m) resolve(Number(m[1]));
      });
    });
    const first = await Promise.race([exited.then((code) => ({ code })), listening.then((port) => ({ port }))]);
    if ('code' in first) return { code: first.code, stderr, stdout };
    const health = (await fetch(`http://127.0.0.1:${first.port}/healthz`)).status;
    child.kill('SIGTERM');
    await exited;
    return { code: null, stderr, stdout, health };
  }

  it('should refuse to start with sandbox messaging and no callback key, naming both, and start once they are acknowledged', async () => {
    const env = { FINERACT_URL: sandbox.url, PIN_PEPPER: PEPPER, FINERACT_PASSWORD: 'password', SIM_SWAP_PROVIDER: 'none' };
    const refused = await serve({ ...env, KIUNGA_ALLOW_INSECURE: 'fineract-password,sim-swap' });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('MESSAGING_PROVIDER=sandbox');
    expect(refused.stderr).toContain('AT_CALLBACK_KEY');
    expect(refused.stderr).toContain('KIUNGA_ALLOW_INSECURE=messaging,callback-key');

    const started = await serve({ ...env, KIUNGA_ALLOW_INSECURE: ALL });
    expect(started.code).toBeNull();
    expect(started.health).toBe(200);
    // Each acknowledged setting is a warning at start.
    const warnings = started.stdout.split('\n').filter((l) => l.includes('KIUNGA_ALLOW_INSECURE') && l.includes('"level":40'));
    expect(warnings.map((l) => JSON.parse(l).acknowledged).sort()).toEqual(['callback-key', 'fineract-password', 'messaging', 'sim-swap']);
  }, 60_000);
});

describe('sandbox-only routes', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await startSandbox({ port: 0 });
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  const status = async (url: string, path: string) => (await fetch(`${url}${path}`)).status;

  it('should serve /sandbox/outbox, /sandbox/calls and /simulator with the built-in sandbox', async () => {
    const s = await startTestServer({ REDIS_URL: '' });
    try {
      for (const path of ['/sandbox/outbox', '/sandbox/calls', '/simulator']) expect(await status(s.url, path), path).toBe(200);
    } finally {
      await s.close();
    }
  });

  it('should serve the outbox and calls exactly while the sandbox messenger is in use, and /simulator only with SIMULATOR=true', async () => {
    const base = { REDIS_URL: '', FINERACT_URL: sandbox.url, PIN_PEPPER: PEPPER, KIUNGA_ALLOW_INSECURE: ALL };
    const sandboxMessaging = await startTestServer(base);
    try {
      expect(await status(sandboxMessaging.url, '/sandbox/outbox')).toBe(200);
      expect(await status(sandboxMessaging.url, '/sandbox/calls')).toBe(200);
      expect(await status(sandboxMessaging.url, '/simulator')).toBe(404);
    } finally {
      await sandboxMessaging.close();
    }
    const real = await startTestServer({
      ...base,
      MESSAGING_PROVIDER: 'africastalking',
      AT_USERNAME: 'kiunga-test',
      AT_API_KEY: 'at-api-key-0123456789',
      AT_VOICE_NUMBER: '+254711082000',
      SIMULATOR: 'true',
    });
    try {
      expect(await status(real.url, '/sandbox/outbox')).toBe(404);
      expect(await status(real.url, '/sandbox/calls')).toBe(404);
      expect(await status(real.url, '/simulator')).toBe(200);
    } finally {
      await real.close();
    }
  });
});
