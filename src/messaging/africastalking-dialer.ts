import type { Dialer, OutboundCall } from './dialer.js';
import type { AfricasTalkingApi } from './africastalking-sdk.js';
import { atFailure } from './africastalking-messenger.js';
import { PermanentDeliveryError, TransientDeliveryError, shortReason, withDeliveryTimeout } from './errors.js';

/**
 * Call-backs through Africa's Talking (`AT.VOICE.call`). When the customer answers, AT posts to the voice
 * number's callback URL (`/channels/africastalking/voice`, configured in AT's dashboard) with the call's
 * `sessionId`, which `call()` returns. `clientRequestId` carries the call-back's ref (always set: the SDK
 * would otherwise send the text "undefined").
 *
 * AT answers `{ entries: [{ phoneNumber, status, sessionId }], errorMessage }`: `Queued` is success;
 * `InvalidPhoneNumber` and `DestinationNotSupported` are permanent; anything else (`InsufficientCredit`, an
 * error message without entries) is retried.
 */

const PROVIDER = 'africastalking';
const PERMANENT_CALL_STATUSES = new Set(['InvalidPhoneNumber', 'DestinationNotSupported']);

export interface AfricasTalkingDialerOptions {
  sdk: AfricasTalkingApi;
  /** AT_VOICE_NUMBER, in E.164. */
  from: string;
  timeoutMs?: number;
}

export class AfricasTalkingDialer implements Dialer {
  readonly provider = PROVIDER;
  constructor(private readonly options: AfricasTalkingDialerOptions) {}

  async call(call: OutboundCall): Promise<{ id: string }> {
    const { sdk, from, timeoutMs = 10_000 } = this.options;
    if (!call.ref) throw new PermanentDeliveryError(PROVIDER, 'call', 'missing ref');
    let answer: unknown;
    try {
      answer = await withDeliveryTimeout(
        sdk.VOICE.call({ callFrom: from, callTo: [call.to], clientRequestId: call.ref }),
        timeoutMs,
        PROVIDER,
        'call',
      );
    } catch (err) {
      if (isCallAnswer(err)) return callOutcome(err); // another 2xx than 200/201 rejects with the body
      throw atFailure(err, 'call');
    }
    return callOutcome(answer);
  }
}

interface CallAnswer {
  entries?: unknown;
  errorMessage?: unknown;
}

function isCallAnswer(value: unknown): value is CallAnswer {
  return typeof value === 'object' && value !== null && ('entries' in value || 'errorMessage' in value);
}

/** AT's session id when the call is queued; a Transient/PermanentDeliveryError otherwise. */
export function callOutcome(answer: unknown): { id: string } {
  if (!isCallAnswer(answer)) throw new TransientDeliveryError(PROVIDER, 'call', 'unexpected answer');
  const first = Array.isArray(answer.entries) ? (answer.entries[0] as Record<string, unknown> | undefined) : undefined;
  if (!first || typeof first !== 'object') {
    throw new TransientDeliveryError(PROVIDER, 'call', `no entry in answer (${shortReason(answer.errorMessage)})`);
  }
  const status = shortReason(first.status);
  if (status === 'Queued' && typeof first.sessionId === 'string' && first.sessionId) return { id: first.sessionId };
  if (PERMANENT_CALL_STATUSES.has(status)) throw new PermanentDeliveryError(PROVIDER, 'call', status);
  throw new TransientDeliveryError(PROVIDER, 'call', status || shortReason(answer.errorMessage) || 'not queued');
}
