import { randomBytes } from 'node:crypto';
/**
 * The outbound SMS port. Providers (the sandbox outbox now; Africa's Talking and Twilio with the SMS issue)
 * implement it; callers send through the job queue so a provider outage delays a message, never loses it.
 */

export interface OutboundSms {
  /** E.164 recipient. */
  to: string;
  text: string;
  /** Correlation (e.g. a transfer reference); never a secret. */
  ref?: string;
  /**
   * Africa's Talking premium (on-demand) reply: the inbound message's `linkId`, the short code it was sent to
   * and the product keyword. Sent as a premium message only when `linkId` and `keyword` are both known;
   * otherwise as a standard SMS. Other providers ignore them.
   */
  linkId?: string;
  shortCode?: string;
  keyword?: string;
}

export interface Messenger {
  readonly provider: string;
  /** Sends one SMS; rejects when the provider did not accept it (the job queue retries). */
  send(sms: OutboundSms): Promise<{ id: string }>;
}

export interface OutboxEntry extends OutboundSms {
  id: string;
  at: string;
}

/** The sandbox provider: records every message; `GET /sandbox/outbox` shows them. Nothing leaves the box. */
export class SandboxOutbox implements Messenger {
  readonly provider = 'sandbox';
  private readonly entries: OutboxEntry[] = [];
  private next = 1;
  /**
   * Tells this recorder's ids from another process's (or this process's before a restart), as a real provider's
   * ids are unique: the log lines of several processes name each message by it.
   */
  private readonly instance = randomBytes(3).toString('hex');

  async send(sms: OutboundSms): Promise<{ id: string }> {
    const id = `sandbox-sms-${this.instance}-${this.next++}`;
    this.entries.push({ ...sms, id, at: new Date().toISOString() });
    if (this.entries.length > 10_000) this.entries.splice(0, this.entries.length - 10_000);
    return { id };
  }

  /** Messages sent, oldest first; `to` filters by recipient. */
  list(to?: string): OutboxEntry[] {
    return this.entries.filter((e) => !to || e.to === to);
  }

  clear(): void {
    this.entries.length = 0;
  }
}
