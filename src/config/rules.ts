import { createPublicKey } from 'node:crypto';
import { isIP } from 'node:net';
import type { z } from 'zod';
import type { SettingName } from '../settings.js';
import { csv, ed25519Key, url } from '../settings/schemas.js';
import { operatorProblems } from './operators.js';
import { INSECURE_SETTINGS, isInsecureSetting, unsafeSettings } from './production-safety.js';
import { simSwapProviderOf, type SettingValues } from './values.js';

/** The rules between settings, run by `configSchema` (`config.ts`), with the checks they call. */

/**
 * The rules between settings. They run even when some variables are invalid (so every problem is reported at
 * once), reading only the settings that parsed.
 */
export function crossProblems(parsed: SettingValues, ctx: z.RefinementCtx<SettingValues>): void {
  const failed = new Set(ctx.issues.map((issue) => issue.path?.[0]));
  const v = <K extends SettingName>(name: K): SettingValues[K] | undefined => (failed.has(name) ? undefined : parsed[name]);
  const problem = (message: string) => ctx.addIssue({ code: 'custom', message, path: [], input: undefined });

  const fineractUrl = v('FINERACT_URL');
  const readUrls = csv(v('FINERACT_READ_URLS'));
  for (const r of readUrls) {
    if (!url(['http:', 'https:']).safeParse(r).success) problem(`FINERACT_READ_URLS: '${r}' is not an http(s) URL`);
  }
  if (readUrls.length > 0 && !fineractUrl) problem('FINERACT_READ_URLS: needs FINERACT_URL');
  const [min, max, daily] = [v('TRANSFER_MIN'), v('TRANSFER_MAX'), v('TRANSFER_DAILY_LIMIT')];
  if (min !== undefined && max !== undefined && min > max) problem('TRANSFER_MIN: must not exceed TRANSFER_MAX');
  if (max !== undefined && daily !== undefined && max > daily) problem('TRANSFER_MAX: must not exceed TRANSFER_DAILY_LIMIT');
  if (!auditKeysMatch(v('AUDIT_SIGNING_KEY'), v('AUDIT_VERIFY_KEY')))
    problem('AUDIT_VERIFY_KEY: is not the public half of AUDIT_SIGNING_KEY (checkpoints would never verify)');
  for (const t of csv(v('TRUSTED_SOURCES'))) if (!isAddressOrCidr(t)) problem(`TRUSTED_SOURCES: '${t}' is not an IP address or CIDR`);
  if (fineractUrl && !v('PIN_PEPPER')) problem('PIN_PEPPER: required when FINERACT_URL is set (a real back office)');
  for (const p of operatorProblems(v('ADMIN_TOKENS'), v('ADMIN_TOKEN'), Boolean(fineractUrl))) problem(p);
  // A variable that was given but is invalid already has its own problem.
  const missing = (name: SettingName) => v(name) === undefined && !failed.has(name);
  const provider = v('MESSAGING_PROVIDER');
  for (const p of providerProblems(provider, missing, v('AT_VOICE_NUMBER'), v('TWILIO_NUMBER'))) problem(p);
  const simSwapProvider = simSwapProviderOf({ FINERACT_URL: fineractUrl, SIM_SWAP_PROVIDER: v('SIM_SWAP_PROVIDER') });
  if (simSwapProvider === 'africastalking') {
    for (const name of ['AT_USERNAME', 'AT_API_KEY', 'AT_CALLBACK_KEY'] as const) {
      // AT_CALLBACK_KEY: the answer arrives by callback, and a forged "NotSwapped" must not get through.
      if (missing(name)) problem(`${name}: required with SIM_SWAP_PROVIDER=africastalking`);
    }
  }
  const allowInsecure = csv(v('KIUNGA_ALLOW_INSECURE'));
  for (const word of allowInsecure) {
    if (!isInsecureSetting(word))
      problem(`KIUNGA_ALLOW_INSECURE: unknown word '${word.slice(0, 40)}' (known: ${INSECURE_SETTINGS.join(', ')})`);
  }
  if (fineractUrl) {
    const unsafe = unsafeSettings({
      messagingProvider: provider,
      callbackKey: v('AT_CALLBACK_KEY'),
      fineractPassword: v('FINERACT_PASSWORD'),
      simSwapProvider,
    }).filter((u) => !allowInsecure.includes(u.word));
    if (unsafe.length > 0) {
      problem(
        `unsafe settings against a real Fineract (FINERACT_URL is set; threat T27): ${unsafe.map((u) => u.problem).join('; ')}. ` +
          `Fix each, or accept it explicitly with KIUNGA_ALLOW_INSECURE=${unsafe.map((u) => u.word).join(',')}`,
      );
    }
  }
}

/**
 * What the chosen MESSAGING_PROVIDER needs, all missing settings at once: africastalking needs AT_USERNAME,
 * AT_API_KEY and AT_VOICE_NUMBER; twilio needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_NUMBER and
 * PUBLIC_URL (its webhooks are built from it). Numbers calls come from must be E.164.
 */
function providerProblems(
  provider: SettingValues['MESSAGING_PROVIDER'] | undefined,
  missing: (name: SettingName) => boolean,
  atVoiceNumber: string | undefined,
  twilioNumber: string | undefined,
): string[] {
  const needs: Record<string, SettingName[]> = {
    africastalking: ['AT_USERNAME', 'AT_API_KEY', 'AT_VOICE_NUMBER'],
    twilio: ['TWILIO_ACCOUNT_SID', 'TWILIO_AUTH_TOKEN', 'TWILIO_NUMBER', 'PUBLIC_URL'],
  };
  const out: string[] = [];
  for (const name of needs[provider ?? ''] ?? []) if (missing(name)) out.push(`${name}: required with MESSAGING_PROVIDER=${provider}`);
  const [number, given] =
    provider === 'africastalking'
      ? ['AT_VOICE_NUMBER', atVoiceNumber]
      : provider === 'twilio'
        ? ['TWILIO_NUMBER', twilioNumber]
        : [undefined, undefined];
  if (number && given !== undefined && !/^\+[1-9]\d{6,14}$/.test(given.trim()))
    out.push(`${number}: must be an E.164 number, e.g. +254711082000`);
  return out;
}

/** False only when both audit keys are set, valid, and the public one is not the private one's half. */
function auditKeysMatch(signing: string | undefined, verifying: string | undefined): boolean {
  const privateKey = signing === undefined ? undefined : ed25519Key(signing, 'private');
  const publicKey = verifying === undefined ? undefined : ed25519Key(verifying, 'public');
  if (!privateKey || !publicKey) return true;
  const der = { format: 'der', type: 'spki' } as const;
  return createPublicKey(privateKey).export(der).equals(publicKey.export(der));
}

/** `10.0.0.1`, `2001:db8::1`, `10.0.0.0/8` or `2001:db8::/32`. */
function isAddressOrCidr(value: string): boolean {
  const [address = '', bits, extra] = value.split('/');
  const family = isIP(address);
  if (family === 0 || extra !== undefined) return false;
  if (bits === undefined) return true;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}
