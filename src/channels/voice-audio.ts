import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Translator } from '../text/i18n.js';

/**
 * Recorded prompts for the voice channel: `locales/audio/<lang>/<name>.mp3` (or `.wav`), found at start-up.
 * A recording replaces one whole spoken sentence, so it can only stand for a text without `{{variables}}`:
 *
 * - `<key>.mp3`: the text `<key>` of `locales/<lang>.json` (`menu.title.mp3`, `pin.ask` cannot: it has
 *   `{{name}}`);
 * - `<label key>@<digit>.mp3`: a menu option read out, "For balance, press 1" (`menu.balance@1.mp3`).
 *
 * Voice plays a recording where one exists; otherwise the provider's synthetic voice speaks the text, and a
 * language the provider has no voice for (Swahili on Twilio; everything but English on Africa's Talking) is
 * spoken in the fallback language. Files that can never be used (unknown key, a text with variables, another
 * extension) are reported at start-up and ignored. They are served at `GET /voice/audio/<lang>/<file>` (or
 * from VOICE_AUDIO_URL, e.g. a CDN with the same layout).
 */

export interface AudioCatalogue {
  /** The URL of the recording of `id` in `lang`, if there is one. */
  url(lang: string, id: string): string | undefined;
  /** Recordings per language. */
  counts(): Record<string, number>;
}

const FILE = /^(?<id>[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)+(?:@[0-9*#]{1,3})?)\.(?:mp3|wav)$/;
const LANG = /^[a-z]{2}$/;

export const NO_AUDIO: AudioCatalogue = { url: () => undefined, counts: () => ({}) };

/**
 * Scans `dir` (`<lang>/<file>`) against the locales. `baseUrl` is where the files are served
 * (`PUBLIC_URL/voice/audio` or VOICE_AUDIO_URL); without it no recording is used.
 */
export async function loadAudioCatalogue(options: {
  dir: string;
  baseUrl?: string;
  translator: Pick<Translator, 'languages' | 'template'>;
  logger: Pick<Logger, 'info' | 'warn'>;
}): Promise<AudioCatalogue> {
  const { dir, translator, logger } = options;
  const files = new Map<string, string>();
  let langs: string[];
  try {
    langs = (await readdir(dir, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch {
    return NO_AUDIO;
  }
  const ignored: string[] = [];
  for (const lang of langs.sort()) {
    if (!LANG.test(lang) || !translator.languages.includes(lang)) {
      ignored.push(`${lang}/ (no locales/${lang}.json)`);
      continue;
    }
    for (const name of (await readdir(join(dir, lang))).sort()) {
      const id = FILE.exec(name)?.groups?.id;
      const key = id?.split('@')[0];
      const template = key ? translator.template(lang, key) : undefined;
      if (!id || template === undefined) {
        ignored.push(`${lang}/${name} (no such text)`);
        continue;
      }
      if (/\{\{/.test(template)) {
        ignored.push(`${lang}/${name} (the text has variables)`);
        continue;
      }
      files.set(`${lang}/${id}`, name);
    }
  }
  if (ignored.length > 0) logger.warn({ dir, ignored }, 'voice recordings ignored');
  if (files.size > 0 && !options.baseUrl) {
    logger.warn({ dir }, 'voice recordings found but PUBLIC_URL (or VOICE_AUDIO_URL) is not set: they are not played');
    return NO_AUDIO;
  }
  const base = options.baseUrl?.replace(/\/+$/, '');
  const counts: Record<string, number> = {};
  for (const k of files.keys()) counts[k.split('/')[0]!] = (counts[k.split('/')[0]!] ?? 0) + 1;
  if (files.size > 0) logger.info({ recordings: counts }, 'voice recordings loaded');
  return {
    url(lang, id) {
      const name = files.get(`${lang}/${id}`);
      return name && base ? `${base}/${lang}/${encodeURIComponent(name)}` : undefined;
    },
    counts: () => ({ ...counts }),
  };
}
