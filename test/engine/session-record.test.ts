import { describe, expect, it } from 'vitest';
import { decodeRecord, encodeRecord, type SessionRecord } from '../../src/engine/session-record.js';

/** The session record's stored form (v2): compact, its snapshot written back as read when the hop left it alone. */

const open = (snapshot: unknown): SessionRecord => ({
  flowId: 'banking',
  flowVersion: 'abc',
  snapshot,
  history: ['pin'],
  msisdn: '+254711000001',
  serviceCode: '*384*123#',
  ended: false,
  transport: { len: 0 },
  hopKeys: ['k1'],
  reply: { end: false, text: 'Reply with "s": inside, and {braces}' },
});

describe('session record v2', () => {
  it('should read back what it wrote', () => {
    const record = open({ value: 'pin', context: { s: 1, text: '"s":' } });
    const read = decodeRecord(encodeRecord(record));
    expect({ ...read, snapshotText: undefined }).toEqual({ ...record, snapshotText: undefined });
  });

  it('should write an unchanged snapshot back as it was read, without serialising it again', () => {
    // Text JSON.stringify would never produce (spaces): it survives only if copied.
    const raw = encodeRecord(open({ value: 'pin' })).replace(/"s":\{"value":"pin"\}\}$/, '"s":{ "value" : "pin" }}');
    const fixed = raw.replace(/"sl":\d+/, `"sl":${'{ "value" : "pin" }'.length}`);
    const read = decodeRecord(fixed);
    expect(read.snapshotText).toBe('{ "value" : "pin" }');
    const next = { ...read, hopKeys: [...read.hopKeys, 'k2'] };
    expect(encodeRecord(next, read)).toMatch(/"s":\{ "value" : "pin" \}\}$/);
    // A snapshot that moved is serialised.
    expect(encodeRecord({ ...next, snapshot: { value: 'menu' } }, read)).toMatch(/"s":\{"value":"menu"\}\}$/);
  });

  it('should keep no machine once the session ended', () => {
    const raw = encodeRecord({ ...open({ value: 'showBalance' }), ended: true });
    expect(JSON.parse(raw)).not.toHaveProperty('s');
    expect(decodeRecord(raw)).toMatchObject({ ended: true, snapshot: null, reply: { text: 'Reply with "s": inside, and {braces}' } });
  });

  it('should write the same bytes as the form of before, member for member, and read them back', () => {
    const full: SessionRecord = {
      flowId: 'banking',
      flowVersion: 'abc',
      snapshot: { status: 'active', value: 'menu', context: { lang: 'sw' } },
      history: ['pin', 'menu'],
      msisdn: '+254711000001',
      serviceCode: '*384#',
      ended: false,
      transport: { len: 4 },
      view: { page: 1 },
      hopKeys: ['a'.repeat(24), 'b'.repeat(24), 'c'.repeat(24), 'd'.repeat(24)],
      reply: { end: false, text: 'Main menu\n1. Balance' },
      facts: { 'savings:1': '1' },
    };
    const ended: SessionRecord = { ...full, ended: true, reply: { end: true, text: 'Bye' }, facts: {} };
    const bare: SessionRecord = {
      flowId: 'banking',
      flowVersion: 'abc',
      snapshot: null,
      history: [],
      msisdn: '+254711000001',
      ended: false,
      transport: undefined,
      hopKeys: [],
    };
    // Written by the encoder before members were assigned one by one.
    const before = [
      '{"v":2,"fi":"banking","fv":"abc","h":["pin","menu"],"m":"+254711000001","sc":"*384#","t":{"len":4},"w":{"page":1},"k":["bbbbbbbbbbbbbbbbbbbbbbbb","cccccccccccccccccccccccc","dddddddddddddddddddddddd"],"x":"Main menu\\n1. Balance","f":{"savings:1":"1"},"sl":58,"s":{"status":"active","value":"menu","context":{"lang":"sw"}}}',
      '{"v":2,"fi":"banking","fv":"abc","m":"+254711000001","sc":"*384#","e":1,"t":{"len":4},"k":["bbbbbbbbbbbbbbbbbbbbbbbb","cccccccccccccccccccccccc","dddddddddddddddddddddddd"],"x":"Bye","re":1}',
      '{"v":2,"fi":"banking","fv":"abc","h":[],"m":"+254711000001","k":[],"sl":4,"s":null}',
    ];
    expect([full, ended, bare].map((r) => encodeRecord(r))).toEqual(before);
    const read = decodeRecord(before[0]!);
    expect(read).toEqual({
      ...full,
      hopKeys: full.hopKeys.slice(1),
      snapshotText: '{"status":"active","value":"menu","context":{"lang":"sw"}}',
    });
    expect(decodeRecord(before[1]!)).toEqual({
      ...ended,
      snapshot: null,
      history: [],
      view: undefined,
      facts: undefined,
      hopKeys: full.hopKeys.slice(1),
    });
    expect(decodeRecord(before[2]!)).toEqual({ ...bare, snapshotText: 'null' });
  });
});
