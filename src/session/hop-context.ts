import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * What the services serving one hop share, carried through async calls the way the hop's deadline is, so
 * that a hop costs few Redis round trips without every service knowing about the others:
 *
 * - reads started early (`startRead`, `takeRead`): a read a later step of the flow will need is started
 *   alongside another round trip (the session lock, the PIN check), and the step takes its answer instead of
 *   reading again;
 * - writes that travel with the session record's write (`deferToRecordWrite`): an audit entry of the hop is
 *   sent together with the record and the lock's release, in one round trip, before the customer is
 *   answered.
 *
 * Outside a hop (admin routes, jobs, tests of one service) each read and write simply runs at once.
 */
export interface HopScope {
  readonly reads: Map<string, Promise<unknown>>;
  /** Store reads started early (`KeyValueStore.readAhead`), by key; the first `get` of the key takes it. */
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
 * Everything carried through the async calls of the hop being served: who calls (security/caller.ts), the
 * deadline (limits/deadline.ts) and the scope above. One AsyncLocalStorage holds the three because every
 * enabled instance is copied onto every promise created while it is enabled: three cost each await about
 * three times what one does.
 */
export interface HopContext {
  readonly caller?: { readonly msisdn: string; readonly channel: string };
  readonly deadline?: number;
  readonly scope?: HopScope;
}

const storage = new AsyncLocalStorage<HopContext>();

/** Runs `fn` with the current context's fields, `change` replacing those it names. */
export function runInContext<T>(change: HopContext, fn: () => T): T {
  const outer = storage.getStore();
  return storage.run(outer ? { ...outer, ...change } : change, fn);
}

/** The context of the call being served (empty outside any). */
export function currentContext(): HopContext | undefined {
  return storage.getStore();
}

/** Runs `fn` as one hop with a fresh scope. */
export function runInHop<T>(fn: (scope: HopScope) => Promise<T>): Promise<T> {
  const scope: HopScope = { reads: new Map(), early: new Map(), facts: new Map(), writes: [] };
  return runInContext({ scope }, () => fn(scope));
}

/** The scope of the hop being served, or undefined outside one. */
export function currentHop(): HopScope | undefined {
  return storage.getStore()?.scope;
}

/**
 * Within a hop: starts the read named `key` now (unless started already), for a later step of the hop to
 * take with `takeRead`. Outside a hop: nothing.
 */
export function startRead(key: string, read: () => Promise<unknown>): void {
  const scope = storage.getStore()?.scope;
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
export function takeRead<T>(key: string, read: () => Promise<T>): Promise<T> {
  const scope = storage.getStore()?.scope;
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
export function deferToRecordWrite(write: () => Promise<unknown>): boolean {
  const scope = storage.getStore()?.scope;
  if (!scope) return false;
  scope.writes.push(write);
  return true;
}

/** Within a hop: what the session learned under `name` (see `HopScope.facts`); else undefined. */
export function sessionFact(name: string): string | undefined {
  return storage.getStore()?.scope?.facts.get(name);
}

/** Within a hop: keeps `value` under `name` in the session (`undefined` forgets it); outside a hop nothing. */
export function keepSessionFact(name: string, value: string | undefined): void {
  const facts = storage.getStore()?.scope?.facts;
  if (!facts) return;
  if (value === undefined) facts.delete(name);
  else facts.set(name, value);
}

/** Within a hop: the early read of `key`, taken (a second `get` reads again); else undefined. */
export function takeEarlyRead(key: string): Promise<string | null> | undefined {
  const early = storage.getStore()?.scope?.early;
  const read = early?.get(key);
  if (read) early!.delete(key);
  return read;
}

/** Within a hop: starts `read(key)` for each key not read early yet. Outside a hop: nothing. */
export function startEarlyReads(keys: readonly string[], read: (key: string) => Promise<string | null>): void {
  const early = storage.getStore()?.scope?.early;
  if (!early) return;
  for (const key of keys) {
    if (early.has(key)) continue;
    const pending = read(key);
    // Nobody may take it (the hop ended first): never an unhandled rejection.
    pending.catch(() => undefined);
    early.set(key, pending);
  }
}

/** Within a hop: forgets the early read of `key` (the hop writes it). */
export function forgetEarlyRead(key: string): void {
  storage.getStore()?.scope?.early.delete(key);
}

/** Starts every write waiting in `scope` (none is started twice) and resolves when all settled. */
export async function flushWrites(scope: HopScope): Promise<void> {
  const writes = scope.writes.splice(0);
  await Promise.all(writes.map((write) => write().catch(() => undefined)));
}
