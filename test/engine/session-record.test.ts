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
});
