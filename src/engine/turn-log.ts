import type { Logger } from 'pino';
import { maskMsisdn } from '../logger.js';
import type { TurnRequest } from './turn-types.js';

/**
 * The hop's log lines, each with the hop's fields (channel, session, masked number) beside its own. A pino
 * child logger per hop would redact its bindings when made (about 2 µs and 5.5 KB, measured), whether or not
 * the hop writes a line at its level; these fields are plain, and the line's redaction covers them as it
 * covers the rest of the line.
 */
export class HopLog {
  #fields: { channel: string; session: string; msisdn: string } | undefined;

  constructor(
    private readonly logger: Logger,
    private readonly req: Pick<TurnRequest, 'channel' | 'sessionId' | 'msisdn'>,
  ) {}

  info(fields: object | string, message?: string): void {
    if (this.logger.isLevelEnabled('info')) this.line('info', fields, message);
  }

  warn(fields: object | string, message?: string): void {
    if (this.logger.isLevelEnabled('warn')) this.line('warn', fields, message);
  }

  private line(level: 'info' | 'warn', fields: object | string, message?: string): void {
    this.#fields ??= { channel: this.req.channel, session: this.req.sessionId, msisdn: maskMsisdn(this.req.msisdn) };
    if (typeof fields === 'string') this.logger[level](this.#fields, fields);
    else this.logger[level]({ ...this.#fields, ...fields }, message);
  }
}
