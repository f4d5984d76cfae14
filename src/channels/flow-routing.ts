import type { LoadedFlow } from '../engine/flow-loader.js';
import type { Channel } from '../engine/types.js';

/**
 * Which flow answers a channel (and a USSD service code) comes from the flow files themselves, never from
 * names in code: a flow serves the `channels:` it lists; with `serviceCodes:` it answers only those codes.
 * A new flow file is served as soon as it loads (or hot-reloads), without a TypeScript change.
 *
 * For a hop on `channel` with `serviceCode`: the flow that names the code wins; else a flow of that channel
 * without `serviceCodes` (the channel's catch-all). Two flows claiming the same code, or two catch-alls of one
 * channel, are refused when the flows load (`loadFlows`), so at most one flow ever matches each.
 */

/** The current flows, by id (FlowVersions). */
export interface FlowCatalogue {
  ids(): string[];
  current(id: string): LoadedFlow | undefined;
}

/** The id of the flow that answers `channel` (and `serviceCode`), or undefined when none does. */
export function flowFor(flows: FlowCatalogue, channel: Channel, serviceCode?: string): string | undefined {
  let named: string | undefined;
  let catchAll: string | undefined;
  for (const id of [...flows.ids()].sort()) {
    const definition = flows.current(id)?.definition;
    if (!definition?.channels.includes(channel)) continue;
    const codes = definition.serviceCodes;
    if (!codes) catchAll ??= id;
    else if (serviceCode !== undefined && codes.includes(serviceCode)) named ??= id;
  }
  return named ?? catchAll;
}
