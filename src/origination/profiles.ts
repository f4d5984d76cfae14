import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { AuditTrail } from '../audit/audit.js';
import type { KeyValueStore } from '../session/store.js';
import type { OriginationCore } from './core.js';
import type { HopContext } from '../session/hop-context.js';
import { ADULT_AGE, ageOn, parseBirthDate, validNationalId } from './national-id.js';
import { RecordStore } from './records.js';

/**
 * Sign-up profiles (issue 12, point 2): people who are not Fineract clients yet. The profile lives in Kiunga
 * (Redis), never in Fineract, until a reviewer approves the person's first loan application; then it becomes a
 * Fineract client whose externalId is the profile id (applications.ts).
 *
 * Steps, in order: name, national ID, date of birth, language, consent (naming the terms' version), PIN. Each
 * answer is saved as it is given, so a redial resumes at the first step not answered (`step`). A number that is
 * already a Fineract client, or an ID number that is already on a client or on another profile, is refused with
 * what to do instead (`SignupRefusal`).
 *
 * The PIN of a profile is kept by the PIN service under the key `p-<profile id>` (a string client id, so its
 * lockout and rules are the ordinary ones); when the Fineract client is created, the PIN record is copied to the
 * client's id (the hash as it is, never the PIN), so the applicant keeps the PIN they chose.
 */

export const SIGNUP_STEPS = ['name', 'nationalId', 'birthDate', 'lang', 'consent', 'pin', 'done'] as const;
export type SignupStep = (typeof SIGNUP_STEPS)[number];

export interface Profile {
  /** `kp` and 20 hex characters: the Fineract client's externalId later. */
  id: string;
  /** The step reached (the state index): redial resumes here. */
  state: SignupStep;
  msisdn: string;
  country: string;
  firstname?: string;
  lastname?: string;
  nationalId?: string;
  birthDate?: string;
  lang?: string;
  consent?: { termsVersion: string; at: number };
  /** The Fineract client, once created (or the registered customer's own). */
  clientId?: number;
  createdAt: number;
  updatedAt: number;
  version: number;
}

/** Why a sign-up answer is refused; each has a screen that says what to do instead. */
export type SignupRefusal = 'already-client' | 'id-taken' | 'id-format' | 'birth-date' | 'under-age' | 'name' | 'language' | 'out-of-order';

export class SignupRefused extends Error {
  constructor(readonly reason: SignupRefusal) {
    super(`sign-up refused: ${reason}`);
    this.name = 'SignupRefused';
  }
}

export interface ProfileServiceOptions {
  store: KeyValueStore;
  prefix: string;
  core: Pick<OriginationCore, 'clientByPhone' | 'clientByNationalId'>;
  audit: AuditTrail;
  logger: Logger;
  /** SIGNUP_COUNTRY: whose ID rule applies. */
  country: string;
  /** SIGNUP_TERMS_VERSION: named on the consent screen and in the audit entry. */
  termsVersion: string;
  languages: readonly string[];
  /** Today as `yyyy-mm-dd` (the business date) for the age check. */
  today: () => string;
  now?: () => number;
}

const NAME = /^[\p{L}][\p{L}' -]{0,39}$/u;

/** The PIN service's key for a profile that is not a Fineract client yet. */
export const profilePinId = (profileId: string) => `p-${profileId}`;

export class ProfileService {
  readonly records: RecordStore<Profile>;
  private readonly now: () => number;

  constructor(private readonly options: ProfileServiceOptions) {
    this.records = new RecordStore<Profile>(options.store, options.prefix, 'profile', (p) => p.msisdn);
    this.now = options.now ?? Date.now;
  }

  get(id: string): Promise<Profile | undefined> {
    return this.records.get(id);
  }

  /** SIGNUP_TERMS_VERSION: the version the consent screen names. */
  get termsVersion(): string {
    return this.options.termsVersion;
  }

  /** The number's profile, if it has one (the newest). */
  async forNumber(msisdn: string): Promise<Profile | undefined> {
    const [id] = await this.records.ids('owner', msisdn, 1);
    return id ? this.records.get(id) : undefined;
  }

  /** Starts a sign-up, or answers the one the number already has (a redial resumes it). */
  /** `hop`: the hop it is made in (session/hop-context.ts), whose deadline its Fineract read is given. */
  async start(msisdn: string, hop?: HopContext): Promise<Profile> {
    const existing = await this.forNumber(msisdn);
    if (existing) return existing;
    if ((await this.options.core.clientByPhone(msisdn, { hop })) !== null) throw new SignupRefused('already-client');
    const at = this.now();
    const profile: Profile = {
      id: `kp${randomBytes(10).toString('hex')}`,
      state: 'name',
      msisdn,
      country: this.options.country,
      createdAt: at,
      updatedAt: at,
      version: 1,
    };
    // One profile per number: a second start racing this one finds this one.
    if (!(await this.options.store.setIfAbsent(this.records.key(`number:${msisdn}`), profile.id, 365 * 86_400_000)))
      return (await this.forNumber(msisdn)) ?? this.start(msisdn);
    await this.records.create(profile);
    return profile;
  }

  async setName(id: string, raw: string): Promise<Profile> {
    const parts = raw.trim().replace(/\s+/g, ' ').split(' ');
    if (parts.length < 2 || !parts.every((p) => NAME.test(p))) throw new SignupRefused('name');
    const firstname = parts[0]!;
    const lastname = parts.slice(1).join(' ');
    return this.answer(id, 'name', { firstname, lastname });
  }

  async setNationalId(id: string, raw: string, hop?: HopContext): Promise<Profile> {
    const profile = await this.mustGet(id);
    const nationalId = validNationalId(profile.country, raw);
    if (!nationalId) throw new SignupRefused('id-format');
    if ((await this.options.core.clientByNationalId(nationalId, { hop })) !== null) throw new SignupRefused('id-taken');
    // One profile per ID number (kept for a year, like the number's own index).
    const indexKey = this.records.key(`nid:${profile.country}:${nationalId}`);
    const holder = await this.options.store.get(indexKey);
    if (holder && holder !== id) throw new SignupRefused('id-taken');
    if (!holder && !(await this.options.store.setIfAbsent(indexKey, id, 365 * 86_400_000))) throw new SignupRefused('id-taken');
    return this.answer(id, 'nationalId', { nationalId });
  }

  async setBirthDate(id: string, raw: string): Promise<Profile> {
    const birthDate = parseBirthDate(raw);
    if (!birthDate || birthDate > this.options.today()) throw new SignupRefused('birth-date');
    if (ageOn(birthDate, this.options.today()) < ADULT_AGE) throw new SignupRefused('under-age');
    return this.answer(id, 'birthDate', { birthDate });
  }

  async setLanguage(id: string, lang: string): Promise<Profile> {
    if (!this.options.languages.includes(lang)) throw new SignupRefused('language');
    return this.answer(id, 'lang', { lang });
  }

  /** The applicant agreed to the terms (this version): audited with the version and the time. */
  async consent(id: string, channel: string): Promise<Profile> {
    const at = this.now();
    const profile = await this.answer(id, 'consent', { consent: { termsVersion: this.options.termsVersion, at } });
    await this.options.audit.record({
      type: 'signup.consent',
      actor: 'system',
      msisdn: profile.msisdn,
      channel,
      data: { profileId: id, termsVersion: this.options.termsVersion, at: new Date(at).toISOString() },
    });
    return profile;
  }

  /** The PIN was set (through the enrolment path, under `profilePinId`): the sign-up is complete. */
  async pinSet(id: string, channel: string): Promise<Profile> {
    const profile = await this.answer(id, 'pin', {});
    await this.options.audit.record({
      type: 'signup.completed',
      actor: 'system',
      msisdn: profile.msisdn,
      channel,
      data: { profileId: id, termsVersion: profile.consent?.termsVersion ?? null },
    });
    return profile;
  }

  /** Records the Fineract client made from this profile. */
  async linkClient(id: string, clientId: number): Promise<Profile | undefined> {
    const { record } = await this.records.update(id, (p) =>
      p.clientId === clientId ? undefined : { ...p, clientId, updatedAt: this.now() },
    );
    return record;
  }

  private async mustGet(id: string): Promise<Profile> {
    const profile = await this.records.get(id);
    if (!profile) throw new SignupRefused('out-of-order');
    return profile;
  }

  /** Saves the answer to `step` and moves to the next step; an answer may be given again while not past consent. */
  private async answer(id: string, step: SignupStep, fields: Partial<Profile>): Promise<Profile> {
    const index = SIGNUP_STEPS.indexOf(step);
    const { record } = await this.records.update(id, (p) => {
      const reached = SIGNUP_STEPS.indexOf(p.state);
      // Steps before consent may be corrected (the summary offers it); nothing is answered ahead of its turn.
      if (index > reached || (reached > SIGNUP_STEPS.indexOf('consent') && index < reached)) throw new SignupRefused('out-of-order');
      const next = index === reached ? SIGNUP_STEPS[index + 1]! : p.state;
      return { ...p, ...fields, state: next, updatedAt: this.now() };
    });
    if (!record) throw new SignupRefused('out-of-order');
    return record;
  }
}

/** Whether the profile's sign-up is complete (its PIN set). */
export const signedUp = (p: Profile | undefined): p is Profile => p?.state === 'done';
