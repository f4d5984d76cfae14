import type { Router } from 'express';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { KeyValueStore } from '../session/store.js';
import type { Keys } from '../session/keys.js';
import { AfricasTalkingSimSwap, createAtInsights, simSwapCallbackRouter, type AtInsightsApi } from './africastalking-sim-swap.js';
import { sandboxSimSwap, type SimSwapCheck } from './sim-swap.js';

/** The SIM-swap check SIM_SWAP_PROVIDER names, and the callback route it needs (Africa's Talking answers later). */
export interface SimSwapSetup {
  /** Undefined for `none`: no check before money moves (refused at start against a real Fineract unless acknowledged). */
  check?: SimSwapCheck;
  /** `POST /channels/africastalking/sim-swap`, for `africastalking`. */
  router?: Router;
}

export function createSimSwap(
  config: Config,
  deps: { store: KeyValueStore; keys: Keys; logger: Logger; insights?: AtInsightsApi },
): SimSwapSetup {
  const { provider } = config.simSwap;
  if (provider === 'sandbox') return { check: sandboxSimSwap(config.sandboxSimSwapped) };
  if (provider === 'none') return {};
  const at = config.africastalking;
  const api = deps.insights ?? createAtInsights({ username: at.username, apiKey: at.apiKey ?? '' });
  const check = new AfricasTalkingSimSwap({
    api,
    store: deps.store,
    keys: deps.keys,
    logger: deps.logger,
    maxAgeDays: config.simSwap.maxAgeDays,
    waitMs: config.simSwap.waitMs,
    cacheS: config.simSwap.cacheS,
  });
  return { check, router: simSwapCallbackRouter({ check, callbackKey: at.callbackKey, logger: deps.logger }) };
}
