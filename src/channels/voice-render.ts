import type { ChannelProfile } from '../engine/turn-types.js';
import { VOICE_KEYS } from '../constants.js';
import { translateScreen } from '../engine/screen.js';
import type { Screen, Turn } from '../engine/types.js';
import type { Translator } from '../text/i18n.js';
import type { AudioCatalogue } from './voice-audio.js';

/**
 * The voice presentation of a screen, shared by Twilio (TwiML) and Africa's Talking (voice XML). The flow is
 * the same as on USSD; only the rendering differs:
 *
 * - the prompt is spoken, then a list (mini statement) in full, up to MAX_LIST_ITEMS rows;
 * - a menu is read out, one sentence per option ("For Balance, press 1.", template `voice.option`) and
 *   gathers one key (`numDigits=1`) when every option key is one digit;
 * - free input (PIN, phone number, amount) asks to finish with `#` (`voice.hash`) and gathers until `#`;
 * - a one-hop notice ("Invalid choice.") is spoken first; after silence, `voice.noInput`;
 * - a final screen is spoken, then `common.goodbye`, then the call ends;
 * - the first screen of a call begins with `voice.intro` (the customer knows this is the call they asked for);
 * - each sentence is a recording where the locale has one (voice-audio.ts), else synthetic speech in the
 *   customer's language, else (no voice for that language on this provider) speech in the fallback language.
 *
 * Nothing typed is ever spoken back: screens never contain a PIN.
 */

/** Most list rows read out (the mini statement holds ten). */
export const MAX_LIST_ITEMS = 10;

/** One sentence of a voice reply: spoken text or a recording. */
export type VoicePiece = { say: string; lang: string } | { play: string; lang: string };

export interface VoiceScript {
  pieces: VoicePiece[];
  /** Wait for keys after the pieces; absent: the call ends after them. */
  gather?: { numDigits?: number; finishOnKey: string };
}

/** A sentence before it is given a language. */
interface Sentence {
  /** The recording that replaces it (voice-audio.ts names), when the sentence has no variable part. */
  audio?: string;
  text(lang: string): string;
}

type Texts = Pick<Translator, 't' | 'template' | 'fallback' | 'languages'>;

/** What a voice reply is rendered from: a turn translated with the texts of the session's flow version. */
export interface VoiceReply {
  end: boolean;
  /** The prompt text; said as it is when there is no screen. */
  text: string;
  screen?: Screen;
  lang?: string;
  /** i18n key of the one-hop notice. */
  notice?: string;
  /** The runner ended the session itself (a polite end, silence): the text already is the goodbye. */
  closing?: boolean;
}

/** Translates a neutral turn for the voice renderer, with `texts` (the session's flow version's). */
export function voiceReplyOf(turn: Turn, texts: Parameters<typeof translateScreen>[1]): VoiceReply {
  const screen = translateScreen(turn.screen, texts, turn.lang);
  return { end: turn.end, text: screen.text, screen, lang: turn.lang, notice: turn.notice, closing: turn.closing !== undefined };
}

const spaced = (text: string) =>
  text.replace(/\s*\n\s*/g, (_m, offset: number, all: string) => (/[.:!?]$/.test(all.slice(0, offset)) ? ' ' : '. ')).trim();

/** The sentences of a screen, in order, for any language. */
function sentences(
  tr: Texts,
  screen: Screen | undefined,
  reply: Pick<VoiceReply, 'text' | 'notice' | 'closing'>,
  extra: { intro?: boolean; silence?: number },
): Sentence[] {
  const out: Sentence[] = [];
  const staticText = (key: string, vars?: Record<string, string | number>): Sentence => ({
    audio: key,
    text: (lang) => spaced(tr.t(lang, key, vars)),
  });
  const final = screen?.final ?? true;
  if (extra.intro) out.push(staticText('voice.intro'));
  if ((extra.silence ?? 0) > 0 && !final) out.push(staticText('voice.noInput'));
  if (reply.notice) out.push(staticText(reply.notice));
  const parts = screen?.parts;
  if (!screen || !parts) {
    const text = spaced(reply.text);
    out.push({ text: () => text });
    return out;
  }
  const vars = parts.vars;
  if (parts.prompt) out.push(staticText(parts.prompt.key, vars));
  for (const row of parts.list.slice(0, MAX_LIST_ITEMS))
    out.push({ text: (lang) => spaced(tr.t(lang, row.key, { ...vars, ...row.vars })) });
  if (parts.empty) out.push(staticText(parts.empty.key, vars));
  for (const o of parts.options) {
    out.push({
      // A row of a `choose` list (an account) changes with the data: never recorded.
      audio: o.label.vars ? undefined : `${o.label.key}@${o.key}`,
      text: (lang) => spaced(tr.t(lang, 'voice.option', { option: tr.t(lang, o.label.key, { ...vars, ...o.label.vars }), digit: o.key })),
    });
  }
  if (screen.input) out.push(staticText('voice.hash'));
  // A flow's final screen ends with a goodbye; an end the runner made itself already is one (as is a final
  // state without a prompt of its own, which says `common.goodbye`).
  if (final && !reply.closing && screen.stateId !== '' && parts.prompt?.key !== 'common.goodbye') out.push(staticText('common.goodbye'));
  return out;
}

/** What to gather after speaking a screen. */
function gatherOf(screen: Screen | undefined): VoiceScript['gather'] {
  if (!screen || screen.final) return undefined;
  const oneDigit = screen.options.length > 0 && !screen.input && screen.options.every((o) => /^[0-9]$/.test(o.key));
  return oneDigit ? { numDigits: 1, finishOnKey: '' } : { finishOnKey: '#' };
}

export interface VoiceRenderOptions {
  translator: Texts;
  audio: AudioCatalogue;
  /** Languages this provider can speak with a synthetic voice. */
  speaks: (lang: string) => boolean;
}

/** Renders a reply into the sentences and gather of a voice reply. */
export function voiceScript(
  reply: VoiceReply,
  options: VoiceRenderOptions,
  extra: { intro?: boolean; silence?: number } = {},
): VoiceScript {
  const { translator: tr, audio, speaks } = options;
  const lang = reply.lang ?? tr.fallback;
  // Where this provider has no voice for the customer's language: the fallback language, else any it speaks.
  const spokenFallback = [tr.fallback, 'en', ...tr.languages].find((l) => tr.languages.includes(l) && speaks(l)) ?? tr.fallback;
  const hasVars = (l: string, key: string) => /\{\{/.test(tr.template(l, key) ?? '{{');
  const recording = (l: string, id: string | undefined) => {
    if (!id) return undefined;
    const key = id.split('@')[0]!;
    return hasVars(l, key) ? undefined : audio.url(l, id);
  };
  const pieces = sentences(tr, reply.screen, reply, extra).map((s): VoicePiece => {
    const play = recording(lang, s.audio);
    if (play) return { play, lang };
    // A raw reply text (a polite error) cannot be translated again: it is said as it is.
    if (speaks(lang) || !reply.screen) return { say: s.text(lang), lang };
    const fallbackPlay = recording(spokenFallback, s.audio);
    if (fallbackPlay) return { play: fallbackPlay, lang: spokenFallback };
    return { say: s.text(spokenFallback), lang: spokenFallback };
  });
  return { pieces, gather: reply.end ? undefined : gatherOf(reply.screen) };
}

/** The spoken words of a screen in its own language, one sentence a line (logs, tests, `reply.text`). */
export function spokenText(tr: Texts, screen: Screen, lang: string, notice?: string): string {
  return sentences(tr, screen, { text: screen.text, notice }, {})
    .map((s) => s.text(lang))
    .join('\n');
}

export interface VoiceProfileOptions {
  ttlMs: number;
}

/**
 * The runner's voice profile: no paging (one page is everything said), keys `0` back and `*` home (a menu
 * gathers one key, so `00` cannot be typed). The voice adapters render their own TwiML or AT voice XML from
 * the turn (`TurnRequest.render`); this presenter's plain spoken text serves any other caller of the runner.
 */
export function voiceProfile(options: VoiceProfileOptions): ChannelProfile {
  return {
    ttlMs: options.ttlMs,
    keys: VOICE_KEYS,
    presenter: {
      render(turn, texts) {
        if (turn.closing) return { text: texts.t(turn.lang, turn.closing) };
        const body = spokenText(texts, translateScreen(turn.screen, texts, turn.lang), turn.lang);
        return { text: turn.notice ? `${texts.t(turn.lang, turn.notice)}\n${body}` : body };
      },
    },
  };
}
