import { createImplementations, type Implementations } from '../engine/registry.js';
import { createLogger } from '../logger.js';

/**
 * The registry's implementations built on dependencies that are never called, for tools that only need the
 * names of actions, guards and actors (lint, graph) or build machines they never run to an actor call.
 * Whatever dependencies the registry grows, this keeps working: every member is an inert stand-in.
 */
export function namesOnlyImplementations(): Implementations {
  const logger = createLogger('silent');
  const inert: unknown = new Proxy(function inert() {}, {
    get: (_target, prop) => (prop === 'then' ? undefined : prop === Symbol.toPrimitive ? () => 0 : inert),
    apply: () => inert,
  });
  const deps = new Proxy({}, { get: (_target, prop) => (prop === 'logger' ? logger : inert) });
  return createImplementations(deps as never);
}
