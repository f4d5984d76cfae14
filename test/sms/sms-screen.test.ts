import { describe, expect, it } from 'vitest';
import { renderSms, smsProfile, smsText } from '../../src/channels/sms-screen.js';
import { smsSegments } from '../../src/text/gsm.js';
import type { Screen, Turn } from '../../src/engine/types.js';

const screen = (text: string, list: string[] = [], options: { key: string; label: string }[] = []): Screen => ({
  stateId: 'sms.x',
  final: true,
  text,
  list,
  options,
});

describe('SMS rendering', () => {
  it('should show as many whole statement rows as fit two GSM-7 parts, newest first', () => {
    const rows = Array.from({ length: 30 }, (_, i) => `${String(i + 1).padStart(2, '0')}/11/2026 -KES 1,000,000.00`);
    const text = renderSms(screen('Mini statement 000000001', rows), undefined, 2);
    const s = smsSegments(text);
    expect(s).toMatchObject({ encoding: 'GSM-7', segments: 2 });
    const shown = text.split('\n').slice(1);
    expect(shown).toEqual(rows.slice(0, shown.length));
    expect(shown.length).toBeGreaterThan(5);
    expect(smsSegments(`${text}\n${rows[shown.length]}`).segments).toBe(3);
  });

  it('should fit one part when asked to, and cut a text too long even alone at a word', () => {
    const long = Array.from({ length: 80 }, (_, i) => `word${i}`).join(' ');
    const one = renderSms(screen(long), undefined, 1);
    expect(smsSegments(one).segments).toBe(1);
    expect(one).toMatch(/ word\d+\.\.\.$/);
    expect(long.startsWith(one.slice(0, -3))).toBe(true);
  });

  it('should send French amounts (narrow no-break spaces) as GSM-7, and keep a text without look-alikes in UCS-2', () => {
    expect(smsText('Solde\u202f: 12\u202f500,00 KES')).toBe('Solde : 12 500,00 KES');
    const amharic = 'ሒሳብዎ '.repeat(40);
    const text = renderSms(screen(amharic), undefined, 2);
    expect(text).toContain('ሒሳብዎ');
    expect(smsSegments(text)).toMatchObject({ encoding: 'UCS-2', segments: 2 });
  });

  it('should put a notice above the prompt, and never page', () => {
    const profile = smsProfile({ ttlMs: 1000 });
    const words: Record<string, string> = {
      'sms.ask': 'Send BAL and your PIN.',
      'menu.balance': 'Balance',
      'error.invalidInput': 'Invalid input.',
    };
    const texts = {
      t: (_l: string, k: string) => words[k] ?? k,
      formatAmount: () => '',
      formatDate: () => '',
      languages: ['en'],
      fallback: 'en',
      template: () => undefined,
    };
    const turn: Turn = {
      end: true,
      lang: 'en',
      notice: 'error.invalidInput',
      screen: {
        stateId: 'sms.x',
        final: true,
        vars: {},
        prompt: { key: 'sms.ask' },
        list: [],
        options: [{ key: '1', label: { key: 'menu.balance' } }],
      },
    };
    // The presenter renders the neutral turn once: one reply, never pages.
    const pages = [profile.presenter.render(turn, texts, undefined).text];
    expect(pages).toEqual(['Invalid input.\nSend BAL and your PIN.\n1. Balance']);
    expect(Object.values(profile.keys).some((k) => /^[0-9]+$/.test(k))).toBe(false);
  });
});
