/**
 * What the services serving one hop share, passed to them explicitly (the turn runner makes one `HopContext`
 * per hop; the conversation hands it to the flow's actors, and they to the services they call), so that a hop
 * costs few Redis round trips without every service knowing about the others:
 *
 * - reads started early (`startRead`, `takeRead`): a read a later step of the flow will need is started
 *   alongside another round trip (the session lock, the PIN check), and the step takes its answer instead of
 *   reading again;
 * - store reads started with the session lock (`startEarlyReads`, `takeEarlyRead`): the caller's language, the
 *   cached customer lookup, whether the number's customer has a PIN;
 * - writes that travel with the session record's write (`deferToRecordWrite`): an audit entry of the hop is
 *   sent together with the record and the lock's release, in one round trip, before the customer is
 *   answered.
 *
 * Every helper takes the hop (or undefined): outside a hop (admin routes, jobs, tests of one service) each read
 * and write simply runs at once. Nothing here is ambient: no async context storage is kept (one turns on V8's
 * promise hooks for the whole process, measured as the largest CPU cost of a hop: docs/performance.md), and
 * test/architecture/no-async-context.test.ts keeps it so.
 */
export interface HopScope {
  readonly reads: Map<string, Promise<unknown>>;
  /** Store reads started early (`KeyValueStore.readAhead`), by key; taken by `takeEarlyRead`. */
  readonly early: Map<string, Promise<string | null>>;
  /**
   * What the session learned that later hops may use instead of reading it again (never a secret: a PIN
   * record's salt, not its hash), kept in the session record by the turn runner.
   */
  readonly facts: Map<string, string>;
  /** Writes waiting for the record's write; taken (and emptied) by `flushWrites`. */
  readonly writes: (() => Promise<unknown>)[];
}

/**
 * The hop being served: who calls (the channel's number, which the PIN service counts wrong PINs against), the
 * hop's absolute deadline (epoch ms, `Date.now()` clock: how long a Fineract call may wait) and the scope above.
 */
export interface HopContext {
  readonly caller?: { readonly msisdn: string; readonly channel: string };
  readonly deadline?: number;
  readonly scope?: HopScope;
}

/** A fresh scope, one per hop. */
export function newHopScope(): HopScope {
  return { reads: new Map(), early: new Map(), facts: new Map(), writes: [] };
}

/**
 * Within a hop: starts the read named `key` now (unless started already), for a later step of the hop to
 * take with `takeRead`. Outside a hop: nothing.
 */
export function startRead(hop: HopContext | undefined, key: string, read: () => Promise<unknown>): void {
  const scope = hop?.scope;
  if (!scope || scope.reads.has(key)) return;
  const pending = read();
  // A read nobody ends up taking must not become an unhandled rejection.
  pending.catch(() => undefined);
  scope.reads.set(key, pending);
}

/**
 * The read named `key` started earlier in this hop (taken: a second call reads again), else `read()` now.
 * A failed early read fails the taker as the read would have.
 */
export function takeRead<T>(hop: HopContext | undefined, key: string, read: () => Promise<T>): Promise<T> {
  const scope = hop?.scope;
  const early = scope?.reads.get(key) as Promise<T> | undefined;
  if (!early) return read();
  scope!.reads.delete(key);
  return early;
}

/**
 * Within a hop: `write` is started together with the session record's write (the same round trip), and the
 * hop is answered only once it settled; returns true. Outside a hop returns false and runs nothing: the
 * caller writes at once. The caller must not wait for a deferred write (it runs after the flow rests).
 */
export function deferToRecordWrite(hop: HopContext | undefined, write: () => Promise<unknown>): boolean {
  const scope = hop?.scope;
  if (!scope) return false;
  scope.writes.push(write);
  return true;
}

/** Within a hop: what the session learned under `name` (see `HopScope.facts`); else undefined. */
export function sessionFact(hop: HopContext | undefined, name: string): string | undefined {
  return hop?.scope?.facts.get(name);
}

/** Within a hop: keeps `value` under `name` in the session (`undefined` forgets it); outside a hop nothing. */
export function keepSessionFact(hop: HopContext | undefined, name: string, value: string | undefined): void {
  const facts = hop?.scope?.facts;
  if (!facts) return;
  if (value === undefined) facts.delete(name);
  else facts.set(name, value);
}

/**
 * Within a hop: the early read of `key`, taken (a second call finds none); else undefined. The caller reads
 * the store itself when there is none: `takeEarlyRead(hop, key) ?? store.get(key)`.
 */
export function takeEarlyRead(hop: HopContext | undefined, key: string): Promise<string | null> | undefined {
  const early = hop?.scope?.early;
  const read = early?.get(key);
  if (read) early!.delete(key);
  return read;
}

/** Within a hop: starts `read(key)` for each key not read early yet. Outside a hop: nothing. */
export function startEarlyReads(hop: HopContext | undefined, keys: readonly string[], read: (key: string) => Promise<string | null>): void {
  const early = hop?.scope?.early;
  if (!early) return;
  for (const key of keys) {
    if (early.has(key)) continue;
    const pending = read(key);
    // Nobody may take it (the hop ended first): never an unhandled rejection.
    pending.catch(() => undefined);
    early.set(key, pending);
  }
}

/** Within a hop: forgets the early read of `key` (the hop writes it, so the read is stale). */
export function forgetEarlyRead(hop: HopContext | undefined, key: string): void {
  hop?.scope?.early.delete(key);
}

/** Starts every write waiting in `scope` (none is started twice) and resolves when all settled. */
export async function flushWrites(scope: HopScope): Promise<void> {
  const writes = scope.writes.splice(0);
  await Promise.all(writes.map((write) => write().catch(() => undefined)));
}
