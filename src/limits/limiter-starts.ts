import { channel } from 'node:diagnostics_channel';

/** What `START_CHANNEL` publishes for each call started: when (epoch ms, sub-millisecond) and from which path. */
export interface LimiterStart {
  id: string;
  via: 'shared' | 'local';
  at: number;
}
/**
 * A `node:diagnostics_channel` name: every call the limiter starts is published there (a `LimiterStart`), for
 * tests and tracing that compare the limiter's starts with the arrivals the upstream counts. Nothing is built
 * while nobody subscribes.
 */
export const START_CHANNEL = 'kiunga:limiter:start';
const startChannel = channel(START_CHANNEL);

/** Publishes `count` starts the limiter `id` made just now on `START_CHANNEL`. */
export function publishStarts(id: string, count: number, via: LimiterStart['via']): void {
  if (count === 0 || !startChannel.hasSubscribers) return;
  const at = performance.timeOrigin + performance.now();
  for (let i = 0; i < count; i++) startChannel.publish({ id, via, at } satisfies LimiterStart);
}
