import type { CommandName } from './router.js';

/** A processed command's answer, replayed as is for the same idempotency key. */
export interface StoredAnswer {
  status: number;
  body: unknown;
}

type Entry = { state: 'processing' } | { state: 'done'; answer: StoredAnswer };

/**
 * The sandbox's `m_portfolio_command_source`: numbers commands and remembers idempotency keys (Fineract 1.9+,
 * docs/fineract.md §10). A key is unique per (action, entity, key), not per resource: the same key on DEPOSIT for
 * another account replays the first answer. Entries are never purged (Fineract's purge job is off by default).
 */
export class CommandSource {
  readonly #entries = new Map<string, Entry>();
  #lastCommandId = 0;

  static scope(command: CommandName, key: string): string {
    return `${command.action}\u0000${command.entity}\u0000${key}`;
  }

  nextCommandId(): number {
    this.#lastCommandId += 1;
    return this.#lastCommandId;
  }

  /** `processing` (425), a stored answer (replay), or undefined (new key). */
  lookup(scope: string): Entry | undefined {
    return this.#entries.get(scope);
  }

  begin(scope: string): void {
    this.#entries.set(scope, { state: 'processing' });
  }

  finish(scope: string, answer: StoredAnswer): void {
    this.#entries.set(scope, { state: 'done', answer });
  }

  /** Forgets a key whose command crashed before an answer existed (a sandbox bug, not a Fineract state). */
  abandon(scope: string): void {
    if (this.#entries.get(scope)?.state === 'processing') this.#entries.delete(scope);
  }
}
