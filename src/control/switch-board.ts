import type { Cluster, Redis } from 'ioredis';
import { Gauge, type Metric } from 'prom-client';
import type { Logger } from 'pino';
import type { KeyValueStore } from '../session/store.js';
import type { SwitchScope, SwitchState, Switches } from './switches.js';

/**
 * The kill switches (issue 10, threat T17), shared by every process through the store.
 *
 * State: one Redis hash, scope → JSON `{off, reason, by, at}`, and a version counter bumped by every change
 * in the same script (both keys share the hash tag `{switches}`, so this holds on a Redis Cluster too).
 * Each process keeps its own view and polls the version every `pollMs` (one cheap script call that returns
 * the hash only when the version moved), so a change is obeyed everywhere within `pollMs` plus one round
 * trip, well under a second. When no read has succeeded for `staleMs`, the view is stale: `money` answers off
 * (money fails closed) and every other scope on (reads and menus stay open); the first good read heals it.
 *
 * Without Redis (the in-process store) the state lives in the store like everything else: one process.
 */

/** The scopes every deployment has; `flow:<id>` scopes come from the loaded flows. */
export const FIXED_SCOPES = ['all', 'money', 'channel:ussd', 'channel:sms', 'channel:voice'] as const satisfies readonly SwitchScope[];

/** Scopes whose return to service needs a second operator when ADMIN_FOUR_EYES is on. */
export const FOUR_EYES_SCOPES: readonly SwitchScope[] = ['all', 'money'];

/** A flow id as flow files name it (`flow:<id>` scopes). */
const FLOW_ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** Is `text` a scope name (known or not)? */
export function isScopeName(text: string): text is SwitchScope {
  return (FIXED_SCOPES as readonly string[]).includes(text) || (text.startsWith('flow:') && FLOW_ID.test(text.slice(5)));
}

/** Longest reason kept (an operator's note, shown in the console and the audit trail). */
export const MAX_REASON = 200;

/** How long a four-eyes request to switch back on waits for its second operator. */
export const PENDING_TTL_MS = 15 * 60_000;

export type ChangeOutcome =
  | { status: 'applied'; state: SwitchState; requestedBy?: string }
  | { status: 'pending'; requestedBy: string }
  /** The same operator asked again: a second, different operator must confirm. */
  | { status: 'same-operator'; requestedBy: string };

export interface SwitchBoardOptions {
  store: KeyValueStore;
  /** REDIS_PREFIX. */
  prefix: string;
  logger: Logger;
  /** ADMIN_FOUR_EYES. */
  fourEyes?: boolean;
  /** How often the version is polled (default 250 ms). */
  pollMs?: number;
  /** Without a good read this long, money fails closed (default 1000 ms). */
  staleMs?: number;
  /** Each poll also reads Redis `TIME` (Redis only): its value in ms and the round trip, for the clock guard. */
  onServerTime?: (serverMs: number, rttMs: number) => void;
}

/** Where the state is kept: a Redis script pair, or plain store keys for the in-process store. */
interface Backend {
  /** The version, and the states when it differs from `known`; Redis's clock with the round trip when there is one. */
  read(
    known: string | undefined,
  ): Promise<{ version: string; states?: Record<string, string>; time?: { serverMs: number; rttMs: number } }>;
  write(scope: SwitchScope, json: string): Promise<void>;
}

// KEYS: state hash, version. ARGV: the version this process holds. Returns {version, seconds, microseconds}
// or {version, seconds, microseconds, hash}: the server's TIME rides along for the clock guard.
const READ_LUA = `
local t = redis.call('TIME')
local v = redis.call('GET', KEYS[2]) or '0'
if v == ARGV[1] then return {v, t[1], t[2]} end
return {v, t[1], t[2], redis.call('HGETALL', KEYS[1])}`;

// KEYS: state hash, version. ARGV: scope, JSON. The change and the new version in one step.
const WRITE_LUA = `
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return redis.call('INCR', KEYS[2])`;

interface SwitchScripts {
  kiungaSwitchRead(state: string, version: string, known: string): Promise<[string, string, string, string[]?]>;
  kiungaSwitchWrite(state: string, version: string, scope: string, json: string): Promise<number>;
}

function redisBackend(store: KeyValueStore, client: Redis | Cluster, stateKey: string, versionKey: string): Backend {
  client.defineCommand('kiungaSwitchRead', { numberOfKeys: 2, lua: READ_LUA });
  client.defineCommand('kiungaSwitchWrite', { numberOfKeys: 2, lua: WRITE_LUA });
  const scripts = client as unknown as SwitchScripts;
  // The store waits for its very first connection (and says why it cannot); the raw client would not.
  const ready = async () => {
    if (client.status !== 'ready') await store.ping();
  };
  return {
    async read(known) {
      await ready();
      const sent = performance.now();
      const [version, seconds, micros, flat] = await scripts.kiungaSwitchRead(stateKey, versionKey, known ?? '');
      const time = { serverMs: Number(seconds) * 1000 + Number(micros) / 1000, rttMs: performance.now() - sent };
      if (!flat) return { version, time };
      const states: Record<string, string> = {};
      for (let i = 0; i + 1 < flat.length; i += 2) states[flat[i]!] = flat[i + 1]!;
      return { version, states, time };
    },
    async write(scope, json) {
      await ready();
      await scripts.kiungaSwitchWrite(stateKey, versionKey, scope, json);
    },
  };
}

/** The in-process store: one JSON object, changes serialised in this process (the only one there is). */
function storeBackend(store: KeyValueStore, stateKey: string, versionKey: string): Backend {
  let queue: Promise<unknown> = Promise.resolve();
  return {
    async read(known) {
      const version = (await store.get(versionKey)) ?? '0';
      if (version === known) return { version };
      return { version, states: JSON.parse((await store.get(stateKey)) ?? '{}') as Record<string, string> };
    },
    async write(scope, json) {
      const step = queue.then(async () => {
        const states = JSON.parse((await store.get(stateKey)) ?? '{}') as Record<string, string>;
        states[scope] = json;
        await store.set(stateKey, JSON.stringify(states));
        await store.increment(versionKey);
      });
      queue = step.catch(() => undefined);
      await step;
    },
  };
}

export class SwitchBoard implements Switches {
  /** `kiunga_switch_off{scope}`, registered by the app on /metrics. */
  readonly metrics: Metric[];
  private readonly backend: Backend;
  private readonly pendingPrefix: string;
  private view = new Map<string, SwitchState>();
  private version: string | undefined;
  /** performance.now() of the last good read; -Infinity until the first. */
  private lastGoodRead = -Infinity;
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  private failing = false;
  private readonly pollMs: number;
  private readonly staleMs: number;

  constructor(private readonly options: SwitchBoardOptions) {
    const { store, prefix } = options;
    const stateKey = `${prefix}:{switches}:state`;
    const versionKey = `${prefix}:{switches}:version`;
    this.pendingPrefix = `${prefix}:{switches}:pending:`;
    const client = (store as { client?: Redis | Cluster }).client;
    this.backend =
      store.kind === 'redis' && client ? redisBackend(store, client, stateKey, versionKey) : storeBackend(store, stateKey, versionKey);
    this.pollMs = options.pollMs ?? 250;
    this.staleMs = options.staleMs ?? 1000;
    const gauge = new Gauge({
      name: 'kiunga_switch_off',
      help: 'Kill switches as this process obeys them: 1 off, 0 on (money reads 1 while the switch state cannot be read).',
      labelNames: ['scope'],
      registers: [],
      collect: () => {
        for (const scope of new Set<string>([...FIXED_SCOPES, ...this.view.keys()])) {
          gauge.set({ scope }, this.isOff(scope as SwitchScope) ? 1 : 0);
        }
      },
    });
    this.metrics = [gauge];
  }

  /** Reads the state once (a failure leaves money off until a read succeeds), then polls until `close()`. */
  async start(): Promise<void> {
    await this.refresh();
    this.timer ??= setInterval(() => void this.refresh(), this.pollMs);
    this.timer.unref();
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The view is older than `staleMs`: the state could not be read lately. */
  get stale(): boolean {
    return performance.now() - this.lastGoodRead > this.staleMs;
  }

  isOff(scope: SwitchScope): boolean {
    if (this.stale) return scope === 'money';
    return this.view.get(scope)?.off === true;
  }

  moneyAllowed(): boolean {
    return !this.stale && !this.isOff('all') && !this.isOff('money');
  }

  /** The states of `scopes` as stored right now (a fresh read; rejects when the store cannot answer). */
  async states(scopes: readonly SwitchScope[]): Promise<SwitchState[]> {
    if (!(await this.refresh(true))) throw new Error('switch state unavailable');
    return scopes.map((scope) => this.view.get(scope) ?? { scope, off: false });
  }

  /** A four-eyes request to switch `scope` back on, waiting for its second operator. */
  async pending(scope: SwitchScope): Promise<{ requestedBy: string; at: string } | undefined> {
    const raw = await this.options.store.get(this.pendingPrefix + scope);
    if (!raw) return undefined;
    const request = JSON.parse(raw) as { by: string; at: string };
    return { requestedBy: request.by, at: request.at };
  }

  /**
   * Turns `scope` off or on as operator `by`. With four eyes, turning `all` or `money` back on takes two
   * different operators: the first call leaves a request (pending, 15 min), the second applies it.
   */
  async change(scope: SwitchScope, change: { off: boolean; reason?: string }, by: string): Promise<ChangeOutcome> {
    const { store } = this.options;
    const pendingKey = this.pendingPrefix + scope;
    const [current] = await this.states([scope]);
    let requestedBy: string | undefined;
    if (this.options.fourEyes && FOUR_EYES_SCOPES.includes(scope) && !change.off && current?.off) {
      const raw = await store.get(pendingKey);
      if (raw === null) {
        const request = JSON.stringify({ by, at: new Date().toISOString() });
        if (await store.setIfAbsent(pendingKey, request, PENDING_TTL_MS)) return { status: 'pending', requestedBy: by };
        // Another operator asked at the same moment: theirs is the request.
        return this.change(scope, change, by);
      }
      const request = JSON.parse(raw) as { by: string };
      if (request.by === by) return { status: 'same-operator', requestedBy: by };
      // Only one confirmation takes the request.
      if (!(await store.deleteIfEquals(pendingKey, raw))) return this.change(scope, change, by);
      requestedBy = request.by;
    } else if (change.off) {
      // An old request to switch back on must not be confirmed after a new switch-off.
      await store.delete(pendingKey);
    }
    const state: SwitchState = {
      scope,
      off: change.off,
      ...(change.reason ? { reason: change.reason.slice(0, MAX_REASON) } : {}),
      by,
      at: new Date().toISOString(),
    };
    await this.backend.write(scope, JSON.stringify({ off: state.off, reason: state.reason, by: state.by, at: state.at }));
    await this.refresh(true);
    return { status: 'applied', state, ...(requestedBy ? { requestedBy } : {}) };
  }

  /**
   * Polls the version; reads the states when it moved. `force`: reads the states whatever the version, even
   * while a poll is running. Resolves with whether the read succeeded.
   */
  private async refresh(force = false): Promise<boolean> {
    if (this.polling && !force) return false;
    this.polling = true;
    try {
      const { version, states, time } = await this.backend.read(force ? undefined : this.version);
      if (time) this.options.onServerTime?.(time.serverMs, time.rttMs);
      if (states) this.view = parseStates(states);
      this.version = version;
      this.lastGoodRead = performance.now();
      if (this.failing) this.options.logger.info('switch state readable again');
      this.failing = false;
      return true;
    } catch (error) {
      if (!this.failing)
        this.options.logger.warn(
          { err: { type: (error as Error)?.name } },
          'switch state unreadable: money fails closed after a second, reads stay open',
        );
      this.failing = true;
      return false;
    } finally {
      this.polling = false;
    }
  }
}

function parseStates(raw: Record<string, string>): Map<string, SwitchState> {
  const out = new Map<string, SwitchState>();
  for (const [scope, json] of Object.entries(raw)) {
    try {
      const s = JSON.parse(json) as Omit<SwitchState, 'scope'>;
      out.set(scope, { scope: scope as SwitchScope, off: s.off === true, reason: s.reason, by: s.by, at: s.at });
    } catch {
      // An unreadable entry is treated as on; the next change of its scope rewrites it.
    }
  }
  return out;
}
