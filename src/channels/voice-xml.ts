import type { VoiceScript } from './voice-render.js';

/**
 * Africa's Talking voice XML, built here rather than with the SDK's ActionBuilder, which writes text and
 * attribute values into the XML as they are: a customer or product name with `&` or `<` would make the whole
 * response malformed, and AT would drop the call. Every text and
 * attribute goes through `xmlEscape`, and characters XML 1.0 cannot carry are removed.
 *
 * Elements used: `Say` (`voice`), `Play` (`url`), `GetDigits` (`numDigits`, `finishOnKey`, `timeout`,
 * `callbackUrl`; one `Say` or `Play` inside), `Redirect` and `Reject`. AT has no `Hangup`: the call ends when
 * the actions run out.
 */

/** Escapes text for XML content and attribute values; drops characters XML 1.0 forbids. */
export function xmlEscape(text: string): string {
  return text
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '')
    .replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

type Attrs = Record<string, string | number | boolean | undefined>;

function element(tag: string, attrs: Attrs = {}, content?: string): string {
  const a = Object.entries(attrs)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${xmlEscape(String(v))}"`)
    .join('');
  return content === undefined ? `<${tag}${a}/>` : `<${tag}${a}>${content}</${tag}>`;
}

/** A small builder of AT voice responses; every value is escaped. */
export class AtVoiceXml {
  private readonly parts: string[] = [];

  say(text: string, attrs: { voice?: string; playBeep?: boolean } = {}): this {
    this.parts.push(AtVoiceXml.sayElement(text, attrs));
    return this;
  }

  play(url: string): this {
    this.parts.push(element('Play', { url }));
    return this;
  }

  /** `prompt` is one `Say` or `Play` element (from `sayElement`/`playElement`). */
  getDigits(attrs: { numDigits?: number; finishOnKey?: string; timeout?: number; callbackUrl?: string }, prompt?: string): this {
    this.parts.push(element('GetDigits', attrs, prompt ?? ''));
    return this;
  }

  redirect(url: string): this {
    this.parts.push(element('Redirect', {}, xmlEscape(url)));
    return this;
  }

  /** Appends an element built with `sayElement` or `playElement`. */
  append(fragment: string): this {
    this.parts.push(fragment);
    return this;
  }

  reject(): this {
    this.parts.push(element('Reject'));
    return this;
  }

  toString(): string {
    return `<?xml version="1.0" encoding="UTF-8"?><Response>${this.parts.join('')}</Response>`;
  }

  static sayElement(text: string, attrs: { voice?: string; playBeep?: boolean } = {}): string {
    return element('Say', attrs, xmlEscape(text));
  }

  static playElement(url: string): string {
    return element('Play', { url });
  }
}

export interface AtRenderOptions {
  /** AT_VOICE (`woman` or `man`). */
  voice: string;
  /** Where AT posts the digits (and where a silent gather is redirected). */
  callbackUrl: string;
  timeoutS: number;
}

/**
 * A voice script as AT XML. AT nests one `Say` or `Play` in `GetDigits`: spoken sentences are joined into
 * one `Say` (the customer may press a key at any time); recordings before the last sentence are played
 * ahead of the `GetDigits`. When the gather times out AT moves to the next action, a `Redirect` back to
 * `callbackUrl` without digits: that is how Kiunga hears the silence (and re-prompts, then says goodbye).
 */
export function atVoiceXml(script: VoiceScript, options: AtRenderOptions): string {
  const xml = new AtVoiceXml();
  // Consecutive spoken sentences become one Say.
  const merged: ({ say: string } | { play: string })[] = [];
  for (const p of script.pieces) {
    const last = merged[merged.length - 1];
    if ('say' in p && last && 'say' in last) last.say = `${last.say} ${p.say}`;
    else merged.push('say' in p ? { say: p.say } : { play: p.play });
  }
  const render = (p: { say: string } | { play: string }) =>
    'say' in p ? AtVoiceXml.sayElement(p.say, { voice: options.voice }) : AtVoiceXml.playElement(p.play);
  if (!script.gather) {
    for (const p of merged) xml.append(render(p));
    return xml.toString();
  }
  const prompt = merged.pop();
  for (const p of merged) xml.append(render(p));
  xml.getDigits(
    {
      numDigits: script.gather.numDigits,
      finishOnKey: script.gather.finishOnKey || undefined,
      timeout: options.timeoutS,
      callbackUrl: options.callbackUrl,
    },
    prompt ? render(prompt) : undefined,
  );
  xml.redirect(options.callbackUrl);
  return xml.toString();
}
