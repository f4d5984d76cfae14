import type { Logger } from 'pino';
import type { TurnRunner } from '../engine/turn-runner.js';
import type { KeyValueStore } from '../session/store.js';
import type { Keys } from '../session/keys.js';
import type { Channel } from '../engine/types.js';

/**
 * What every channel adapter is built with (channels/index.ts builds one object and spreads it into each).
 * The abuse limits are the request wrapper's (adapter.ts, `hop.admit`).
 */
export interface ChannelDeps {
  runner: TurnRunner;
  /** The flow that answers a channel and USSD service code, as the flow files declare it (flow-routing.ts). */
  flowFor: (channel: Channel, serviceCode?: string) => string | undefined;
  store: KeyValueStore;
  keys: Keys;
  logger: Logger;
  /** Server secret keying hashes of what customers send (the PIN pepper). */
  secret: string;
  /** HOP_DEADLINE_MS: the budget from a request's arrival to its answer. */
  hopDeadlineMs: number;
  defaultCountry: string;
  /** The polite "too many requests, try later" text (default language). */
  busyText?: () => string;
  /** The polite "paused for maintenance" text (default language), answered while the channel is switched off. */
  maintenanceText?: () => string;
}
