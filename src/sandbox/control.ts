/**
 * Test and demo controls of one sandbox: latency, forced outages, denied permissions and a request log.
 * Tests use the object returned by `startSandbox`; other processes use `POST /sandbox/control` and
 * `GET /sandbox/requests` on the same port.
 */

/** `500` answers `{"Exception": ...}` with HTTP 500 (Fineract 1.9+ DefaultExceptionMapper); `reset` destroys the socket. */
export type FailMode = 'none' | '500' | 'reset';

export const FAIL_MODES: readonly FailMode[] = ['none', '500', 'reset'];

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
}

export interface SandboxControlState {
  latencyMs: number;
  failMode: FailMode;
  deniedPermissions: string[];
}

/** Entries kept in the request log; the oldest are dropped beyond this. */
export const REQUEST_LOG_LIMIT = 10_000;

export class SandboxControl {
  /** Delay added before every Fineract API answer. */
  latencyMs = 0;
  failMode: FailMode = 'none';
  /** Permission codes (e.g. `READ_SAVINGSACCOUNT`) answered with 403 `error.msg.not.authorized`. */
  readonly deniedPermissions = new Set<string>();
  readonly #requests: SandboxRequest[] = [];

  constructor(latencyMs = 0) {
    this.latencyMs = latencyMs;
  }

  /** Requests received on the Fineract API, oldest first (control routes are not logged). */
  get requests(): readonly SandboxRequest[] {
    return this.#requests;
  }

  record(entry: SandboxRequest): SandboxRequest {
    this.#requests.push(entry);
    if (this.#requests.length > REQUEST_LOG_LIMIT) this.#requests.splice(0, this.#requests.length - REQUEST_LOG_LIMIT);
    return entry;
  }

  clearRequests(): void {
    this.#requests.length = 0;
  }

  /** Back to normal service: no latency, no failures, every permission granted (the log is kept). */
  reset(): void {
    this.latencyMs = 0;
    this.failMode = 'none';
    this.deniedPermissions.clear();
  }

  state(): SandboxControlState {
    return { latencyMs: this.latencyMs, failMode: this.failMode, deniedPermissions: [...this.deniedPermissions] };
  }
}
