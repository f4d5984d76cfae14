import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTranslator, type Translator } from '../../src/text/i18n.js';
import { loadAudioCatalogue, NO_AUDIO, type AudioCatalogue } from '../../src/channels/voice-audio.js';
import { voiceScript, type VoiceReply, type VoiceScript } from '../../src/channels/voice-render.js';
import { atVoiceXml, xmlEscape } from '../../src/channels/voice-xml.js';
import { twiml } from '../../src/channels/twilio-voice.js';
import type { Screen } from '../../src/engine/types.js';
import type { TestServer } from '../helpers/server.js';
import {
  allNodes,
  CHANYA,
  parseXml,
  placedCalls,
  spoken,
  startVoiceServer,
  twilioCall,
  twilioPost,
  newCallSid,
  TWILIO_NUMBER,
} from './helpers.js';

/**
 * Voice rendering rules: recordings (`locales/audio/<lang>/<key>.mp3`, `<label key>@<digit>.mp3`) where they
 * exist, synthetic speech where the provider has a voice, the fallback language otherwise; XML that stays
 * well-formed whatever the text.
 */

const LOCALES = fileURLToPath(new URL('../../locales', import.meta.url));
const BASE = 'https://cdn.example.org/voice';

let dir: string;
let tr: Translator;
let audio: AudioCatalogue;
const warnings: unknown[] = [];

beforeAll(async () => {
  tr = await createTranslator({ dir: LOCALES, fallback: 'en' });
  dir = await mkdtemp(join(tmpdir(), 'kiunga-audio-'));
  await mkdir(join(dir, 'sw'));
  await mkdir(join(dir, 'zz'));
  for (const f of ['menu.title.mp3', 'menu.balance@1.mp3', 'pin.ask.mp3', 'no.such.key.mp3', 'notes.txt'])
    await writeFile(join(dir, 'sw', f), 'ID3');
  await writeFile(join(dir, 'zz', 'menu.title.mp3'), 'ID3');
  audio = await loadAudioCatalogue({
    dir,
    baseUrl: BASE,
    translator: tr,
    logger: { info: () => undefined, warn: (o: unknown) => warnings.push(o) },
  });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const menu = (lang: string): VoiceReply => {
  const screen: Screen = {
    stateId: 'banking.menu',
    final: false,
    text: '',
    list: [],
    options: [
      { key: '1', label: tr.t(lang, 'menu.balance') },
      { key: '2', label: tr.t(lang, 'menu.statement') },
    ],
    parts: {
      vars: {},
      prompt: { key: 'menu.title' },
      list: [],
      options: [
        { key: '1', label: { key: 'menu.balance' } },
        { key: '2', label: { key: 'menu.statement' } },
      ],
    },
  };
  return { end: false, text: '', screen, lang };
};
const twilioSpeaks = (lang: string) => lang === 'en' || lang === 'fr';

describe('recordings (locales/audio)', () => {
  it('should accept <key>.mp3 and <label key>@<digit>.mp3 of texts without variables, and report the rest', () => {
    expect(audio.counts()).toEqual({ sw: 2 });
    expect(audio.url('sw', 'menu.title')).toBe(`${BASE}/sw/menu.title.mp3`);
    expect(audio.url('sw', 'menu.balance@1')).toBe(`${BASE}/sw/menu.balance%401.mp3`);
    expect(audio.url('sw', 'pin.ask')).toBeUndefined();
    const reported = JSON.stringify(warnings);
    for (const why of [
      'sw/pin.ask.mp3 (the text has variables)',
      'sw/no.such.key.mp3 (no such text)',
      'sw/notes.txt (no such text)',
      'zz/ (no locales/zz.json)',
    ]) {
      expect(reported).toContain(why);
    }
  });

  it('should play a recording where there is one and speak the fallback language where Twilio has no Swahili voice', () => {
    const script = voiceScript(menu('sw'), { translator: tr, audio, speaks: twilioSpeaks });
    expect(script).toEqual({
      pieces: [
        { play: `${BASE}/sw/menu.title.mp3`, lang: 'sw' },
        { play: `${BASE}/sw/menu.balance%401.mp3`, lang: 'sw' },
        { say: 'For Mini statement, press 2.', lang: 'en' },
      ],
      gather: { numDigits: 1, finishOnKey: '' },
    });
    const xml = parseXml(
      twiml(script, { action: 'https://k.example/a?ref=x&seq=2', voices: { en: { voice: 'Polly.Amy', language: 'en-GB' } }, timeoutS: 8 }),
    );
    const gather = xml.children[0]!;
    expect(gather.name).toBe('Gather');
    expect(gather.children.map((c) => [c.name, c.text || c.attrs])).toEqual([
      ['Play', `${BASE}/sw/menu.title.mp3`],
      ['Play', `${BASE}/sw/menu.balance%401.mp3`],
      ['Say', 'For Mini statement, press 2.'],
    ]);
    expect(gather.attrs).toMatchObject({
      numDigits: '1',
      timeout: '8',
      action: 'https://k.example/a?ref=x&seq=2',
      actionOnEmptyResult: 'true',
    });
  });

  it('should speak Swahili words nowhere a provider has no Swahili voice, and French with a French voice', () => {
    const sw = voiceScript(menu('sw'), { translator: tr, audio: NO_AUDIO, speaks: twilioSpeaks });
    expect(sw.pieces.map((p) => ('say' in p ? `${p.lang}:${p.say}` : p.play))).toEqual([
      'en:Main menu',
      'en:For Balance, press 1.',
      'en:For Mini statement, press 2.',
    ]);
    const fr = voiceScript(menu('fr'), { translator: tr, audio: NO_AUDIO, speaks: twilioSpeaks });
    expect(fr.pieces.map((p) => ('say' in p ? `${p.lang}:${p.say}` : p.play))).toEqual([
      'fr:Menu principal',
      'fr:Pour Solde, tapez 1.',
      'fr:Pour Mini-relevé, tapez 2.',
    ]);
  });

  it('should play recordings ahead of GetDigits on AT, which nests one Say or Play', () => {
    const script = voiceScript(menu('sw'), { translator: tr, audio, speaks: (l) => l === 'en' });
    const xml = parseXml(atVoiceXml(script, { voice: 'woman', callbackUrl: 'https://k.example/v?key=a&seq=3', timeoutS: 10 }));
    expect(xml.children.map((c) => c.name)).toEqual(['Play', 'Play', 'GetDigits', 'Redirect']);
    expect(xml.children[2]!.children.map((c) => [c.name, c.text])).toEqual([['Say', 'For Mini statement, press 2.']]);
    expect(xml.children[3]!.text).toBe('https://k.example/v?key=a&seq=3');
  });
});

describe('XML escaping', () => {
  const nasty = `Tom & Jerry <script>alert("x")</script> 'quoted' \u0001\u0008 ]]> &amp;`;

  it('should escape text and attributes in AT voice XML (the AT SDK builder does not)', () => {
    const script: VoiceScript = {
      pieces: [
        { say: nasty, lang: 'en' },
        { play: 'https://a.example/x.mp3?a=1&b="2"', lang: 'en' },
        { say: nasty, lang: 'en' },
      ],
      gather: { finishOnKey: '#' },
    };
    const body = atVoiceXml(script, { voice: 'woman', callbackUrl: 'https://k.example/v?key=a&b=<c>&seq=1', timeoutS: 10 });
    const xml = parseXml(body);
    const say = allNodes(xml).filter((n) => n.name === 'Say');
    expect(say.map((s) => s.text)).toEqual([nasty.replace(/[\u0001\u0008]/g, ''), nasty.replace(/[\u0001\u0008]/g, '')]);
    expect(allNodes(xml).find((n) => n.name === 'Play')!.attrs.url).toBe('https://a.example/x.mp3?a=1&b="2"');
    expect(allNodes(xml).find((n) => n.name === 'GetDigits')!.attrs.callbackUrl).toBe('https://k.example/v?key=a&b=<c>&seq=1');
    expect(xmlEscape(`<&>"'`)).toBe('&lt;&amp;&gt;&quot;&apos;');
  });

  it('should escape text in TwiML too (the twilio builder)', () => {
    const body = twiml({ pieces: [{ say: nasty.replace(/[\u0001\u0008]/g, ''), lang: 'en' }] }, { action: '', voices: {}, timeoutS: 5 });
    const xml = parseXml(body);
    expect(xml.children.map((c) => c.name)).toEqual(['Say', 'Hangup']);
    expect(xml.children[0]!.text).toBe(nasty.replace(/[\u0001\u0008]/g, ''));
  });
});

describe('recordings served and played on a call', () => {
  let server: TestServer;
  let locales: string;
  beforeAll(async () => {
    locales = await mkdtemp(join(tmpdir(), 'kiunga-locales-'));
    await cp(LOCALES, locales, { recursive: true });
    await mkdir(join(locales, 'audio', 'sw'), { recursive: true });
    await writeFile(join(locales, 'audio', 'sw', 'menu.title.mp3'), Buffer.from('ID3-menyu-kuu'));
    server = await startVoiceServer({ LOCALES_DIR: locales });
    await server.services.store.set(server.services.keys.language(CHANYA), 'sw');
  });
  afterAll(async () => {
    await server?.close();
    await rm(locales, { recursive: true, force: true });
  });

  it('should serve the recording at /voice/audio and play it in the Swahili menu', async () => {
    const file = await fetch(`${server.url}/voice/audio/sw/menu.title.mp3`);
    expect(file.status).toBe(200);
    expect(Buffer.from(await file.arrayBuffer()).toString()).toBe('ID3-menyu-kuu');
    expect((await fetch(`${server.url}/voice/audio/sw/../../en.json`)).status).toBe(404);

    await twilioPost(server, '/channels/twilio/voice', { CallSid: newCallSid(), From: CHANYA, To: TWILIO_NUMBER, Direction: 'inbound' });
    const [placed] = await placedCalls(server, CHANYA);
    const call = twilioCall(server, CHANYA, placed!.ref);
    // "Welcome {{name}}" has a variable: no recording can say it, and Twilio has no Swahili voice: English.
    expect(spoken(await call.answer())).toContain('Welcome Chanya. Enter your PIN:');
    const menu = await call.press('1357');
    const gather = menu.xml!.children[0]!;
    expect(gather.children[0]).toMatchObject({ name: 'Play', text: 'https://kiunga.example.org/voice/audio/sw/menu.title.mp3' });
    expect(gather.children[1]).toMatchObject({
      name: 'Say',
      text: 'For Balance, press 1.',
      attrs: { voice: 'Polly.Amy', language: 'en-GB' },
    });
    await call.status('completed');
  });
});
