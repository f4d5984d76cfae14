import { describe, expect, it } from 'vitest';
import { africastalkingUssd, deriveInputs } from '../../src/channels/africastalking-ussd.js';
import { keyedHash } from '../../src/security/secrets.js';

/**
 * What the AT USSD adapter remembers of the cumulative `text` between hops: one keyed hash per hop, which is
 * also the hop key (threat T6: never the text, which repeats the PIN).
 */

const SECRET = 'test-secret-for-the-text-memory';
const adapter = africastalkingUssd({ secret: SECRET, defaultCountry: 'KE', politeEnd: () => 'Sorry' } as never);
const hop = (text: string) =>
  adapter.toInbound({ sessionId: 'ATUid_m', phoneNumber: '+254711000001', serviceCode: '*384#', text } as never, {} as never) as {
    hopKey: string;
    inputs(previous: unknown): { inputs: string[]; transport: unknown };
  };

describe('the AT USSD text memory', () => {
  it('should remember the hop key as the keyed hash of the text: one keyed hash per hop, never the text', () => {
    const dial = hop('');
    const first = dial.inputs(undefined);
    expect(first).toEqual({ inputs: [], transport: { len: 0, k: dial.hopKey } });
    const pin = hop('1234');
    const second = pin.inputs(first.transport);
    expect(second).toEqual({ inputs: ['1234'], transport: { len: 4, k: pin.hopKey } });
    const menu = hop('1234*1');
    expect(menu.inputs(second.transport)).toEqual({ inputs: ['1'], transport: { len: 6, k: menu.hopKey } });
    expect(JSON.stringify(menu.inputs(second.transport).transport)).not.toContain('1234');
  });

  it('should read the memory sessions kept before (a keyed hash of the text alone) during a deploy', () => {
    const before = { len: 4, h: keyedHash(SECRET, '1234') };
    expect(hop('1234*1').inputs(before).inputs).toEqual(['1']);
    expect(deriveInputs('1234*1', { len: 4, h: keyedHash(SECRET, '9999') }, SECRET)).toEqual(['1234*1']);
  });

  it('should take a text that does not extend the previous one whole (an input with a star, or a restart)', () => {
    const previous = hop('1234').inputs({ len: 0, k: hop('').hopKey }).transport;
    expect(hop('5678*1').inputs(previous).inputs).toEqual(['5678*1']);
    expect(hop('12').inputs(previous).inputs).toEqual(['12']);
  });
});
