import type { Logger } from 'pino';
import type { TurnRunner } from '../engine/turn-runner.js';
import type { KeyValueStore } from '../session/store.js';
import type { Keys } from '../session/keys.js';

/** What every channel adapter is built with (app.ts builds one object and spreads it into each). */
export interface ChannelDeps {
  runner: TurnRunner;
  store: KeyValueStore;
  keys: Keys;
  logger: Logger;
  /** Server secret keying hashes of what customers send (the PIN pepper). */
  secret: string;
  /** HOP_DEADLINE_MS: the budget from a request's arrival to its answer. */
  hopDeadlineMs: number;
  defaultCountry: string;
}
