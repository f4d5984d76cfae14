import { randomBytes } from 'node:crypto';
/**
 * The outbound call port (call-back IVR). Providers (the sandbox, Africa's Talking, Twilio) implement it;
 * calls are placed from the job queue, never inside a webhook.
 */

export interface OutboundCall {
  /** E.164 number of the customer who asked for the call-back. */
  to: string;
  /** Kiunga's id of this call-back; the voice webhooks find the call-back by it (never a secret). */
  ref: string;
}

export interface Dialer {
  readonly provider: string;
  /** Places the call; resolves with the provider's call id (Twilio CallSid, AT sessionId). */
  call(call: OutboundCall): Promise<{ id: string }>;
}

export interface PlacedCall extends OutboundCall {
  id: string;
  at: string;
}

/** The sandbox provider: records every call it was asked to place; `GET /sandbox/calls` shows them. */
export class SandboxDialer implements Dialer {
  readonly provider = 'sandbox';
  private readonly calls: PlacedCall[] = [];
  private next = 1;
  /**
   * Tells this recorder's ids from another process's (or this process's before a restart), as a real provider's
   * ids are unique: a call's ref is kept in the shared Redis under its id.
   */
  private readonly instance = randomBytes(3).toString('hex');

  async call(call: OutboundCall): Promise<{ id: string }> {
    const id = `sandbox-call-${this.instance}-${this.next++}`;
    this.calls.push({ ...call, id, at: new Date().toISOString() });
    if (this.calls.length > 10_000) this.calls.splice(0, this.calls.length - 10_000);
    return { id };
  }

  list(to?: string): PlacedCall[] {
    return this.calls.filter((c) => !to || c.to === to);
  }
}
