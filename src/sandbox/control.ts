/**
 * Test and demo controls of one sandbox: latency, forced outages, fault injection, simulated Fineract version,
 * instance mode, denied permissions and a request log. Tests use the object returned by `startSandbox`; other
 * processes use `POST /sandbox/control` and `GET /sandbox/requests` on the same port.
 */

/**
 * `500` answers every API request `{"Exception": ...}` with HTTP 500 (Fineract 1.9+ DefaultExceptionMapper) before
 * anything runs; `reset` destroys the socket; `command-500` lets reads through and fails every write *inside* the
 * command (after its checks; rolled back), so the 500 is stored under the idempotency key and replayed with
 * `x-served-from-cache: true` forever, as Fineract stores any non-200 outcome of a command as ERROR.
 */
export type FailMode = 'none' | '500' | 'reset' | 'command-500';

export const FAIL_MODES: readonly FailMode[] = ['none', '500', 'reset', 'command-500'];

/**
 * Simulated Fineract version. `1.8` has no idempotency store (the `Idempotency-Key` header is ignored) and no
 * `GET /savingsaccounts/{id}/transactions/search` (404); 1.9 and 1.10 behave alike here.
 */
export type SandboxVersion = '1.8' | '1.9' | '1.10';

export const SANDBOX_VERSIONS: readonly SandboxVersion[] = ['1.8', '1.9', '1.10'];

/**
 * The next `count` writes commit (money moves, the idempotency store records the result), then the answer is
 * held back `ms` milliseconds (`delay`) or the connection is destroyed without an answer (`destroy`), so the
 * caller times out or fails although the write happened.
 */
export interface TimeoutAfterCommit {
  count: number;
  mode: 'delay' | 'destroy';
  ms: number;
}

export interface SandboxRequest {
  method: string;
  /** Path without the query string, e.g. `/fineract-provider/api/v1/clients/1`. */
  path: string;
  /** Raw query string without `?` (may contain phone numbers; sandbox only). */
  query: string;
  /** Epoch milliseconds when the request arrived. */
  at: number;
  /** Response status, once answered; absent for destroyed sockets and requests still in flight. */
  status?: number;
  /** The `Idempotency-Key` header of a write, when sent. */
  idempotencyKey?: string;
  /** True when the answer was replayed from the idempotency store (`x-served-from-cache: true`). */
  servedFromCache?: boolean;
  /** True when this request's write committed (moved money); absent for reads, refusals and replays. */
  committed?: boolean;
}

export interface SandboxControlState {
  latencyMs: number;
  failMode: FailMode;
  deniedPermissions: string[];
  errorRate: number;
  seed: number;
  version: SandboxVersion;
  readOnly: boolean;
  makerChecker: boolean;
  loanLocked: boolean;
  writeLatencyMs: number;
  timeoutAfterCommit: TimeoutAfterCommit | null;
  /** Fineract API requests received since start (the log keeps only the latest REQUEST_LOG_LIMIT). */
  received: number;
}

/** Entries kept in the request log; the oldest are dropped beyond this. */
export const REQUEST_LOG_LIMIT = 10_000;

const DEFAULT_SEED = 1;

export class SandboxControl {
  /** Delay added before every Fineract API answer. */
  latencyMs = 0;
  failMode: FailMode = 'none';
  /** Permission codes (e.g. `READ_SAVINGSACCOUNT`) answered with 403 `error.msg.not.authorized`. */
  readonly deniedPermissions = new Set<string>();
  /** Probability (0..1) that an API request is answered 500 `{"Exception": ...}`; drawn from a seeded PRNG. */
  errorRate = 0;
  version: SandboxVersion = '1.10';
  /** A read instance (fineract.mode.write-enabled=false): every non-GET gets 405 `error.msg.invalid.instance.type`. */
  readOnly = false;
  /** Writes are validated, then rolled back and answered 200 `{commandId, rollbackTransaction: true}`. */
  makerChecker = false;
  /** Loan writes (repayments, transfers to a loan) get 409 `error.msg.loan.locked` (Loan COB running). */
  loanLocked = false;
  /** How long a write stays "under processing" (idempotency key in flight) before it commits. */
  writeLatencyMs = 0;
  timeoutAfterCommit: TimeoutAfterCommit | null = null;
  readonly #requests: SandboxRequest[] = [];
  #seed = DEFAULT_SEED;
  #rng = mulberry32(DEFAULT_SEED);
  readonly #readOnlyInstance: boolean;

  /** `readOnly` here is the instance's mode (a replica), kept across `reset()`. */
  constructor(latencyMs = 0, options: { readOnly?: boolean } = {}) {
    this.latencyMs = latencyMs;
    this.#readOnlyInstance = options.readOnly ?? false;
    this.readOnly = this.#readOnlyInstance;
  }

  /** Requests received on the Fineract API, oldest first (control routes are not logged). */
  get requests(): readonly SandboxRequest[] {
    return this.#requests;
  }

  #received = 0;

  record(entry: SandboxRequest): SandboxRequest {
    this.#received++;
    this.#requests.push(entry);
    if (this.#requests.length > REQUEST_LOG_LIMIT) this.#requests.splice(0, this.#requests.length - REQUEST_LOG_LIMIT);
    return entry;
  }

  clearRequests(): void {
    this.#requests.length = 0;
  }

  get seed(): number {
    return this.#seed;
  }

  /** Restarts the error-rate PRNG: the same seed and the same request sequence fail the same requests. */
  set seed(value: number) {
    this.#seed = value >>> 0;
    this.#rng = mulberry32(this.#seed);
  }

  /** One draw per API request: true when this request should fail with a 500. */
  drawError(): boolean {
    if (this.errorRate <= 0) return false;
    return this.#rng() < this.errorRate;
  }

  /** Consumes one "timeout after commit" if armed. */
  takeTimeoutAfterCommit(): { mode: 'delay' | 'destroy'; ms: number } | null {
    const t = this.timeoutAfterCommit;
    if (!t || t.count <= 0) return null;
    t.count -= 1;
    if (t.count === 0) this.timeoutAfterCommit = null;
    return { mode: t.mode, ms: t.ms };
  }

  /**
   * Back to normal service: no latency, no failures or faults, version 1.10, every permission granted, the
   * instance's own read/write mode (log and data kept).
   */
  reset(): void {
    this.latencyMs = 0;
    this.failMode = 'none';
    this.deniedPermissions.clear();
    this.errorRate = 0;
    this.seed = DEFAULT_SEED;
    this.version = '1.10';
    this.readOnly = this.#readOnlyInstance;
    this.makerChecker = false;
    this.loanLocked = false;
    this.writeLatencyMs = 0;
    this.timeoutAfterCommit = null;
  }

  state(): SandboxControlState {
    return {
      latencyMs: this.latencyMs,
      failMode: this.failMode,
      deniedPermissions: [...this.deniedPermissions],
      errorRate: this.errorRate,
      seed: this.#seed,
      version: this.version,
      readOnly: this.readOnly,
      makerChecker: this.makerChecker,
      loanLocked: this.loanLocked,
      writeLatencyMs: this.writeLatencyMs,
      timeoutAfterCommit: this.timeoutAfterCommit ? { ...this.timeoutAfterCommit } : null,
      received: this.#received,
    };
  }
}

/** Small, fast, seedable PRNG (public domain); uniform in [0, 1). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
