import type { BankData } from './model.js';
import { CommandSource } from './command-source.js';
import { HttpError, type CommandName, type CommandRoute, type Reply, type RouteContext } from './router.js';
import { fineractError } from './serialize.js';

/** What the server does with a write's answer. */
export interface CommandOutcome {
  status: number;
  /** `undefined` sends an empty body (425 while the same key is still processing). */
  body: unknown;
  headers: Record<string, string>;
  servedFromCache: boolean;
  /** The write moved money (or changed data). */
  committed: boolean;
  /** Armed `timeoutAfterCommit`: hold the answer back or drop the connection. */
  afterCommit: { mode: 'delay' | 'destroy'; ms: number } | null;
}

export interface CommandRequest {
  route: CommandRoute;
  command: CommandName;
  ctx: RouteContext;
  /** The `Idempotency-Key` header, if any. */
  idempotencyKey: string | undefined;
  source: CommandSource;
  delay(ms: number): Promise<void>;
}

const CACHE_HEADER = { 'x-served-from-cache': 'true' } as const;

/**
 * Runs one write the way Fineract's command pipeline does (docs/fineract.md §10, §13, §14):
 *
 * 1. Loan COB lock filter on `/loans/{id}/...` writes: 409 `error.msg.loan.locked`, nothing recorded.
 * 2. Idempotency (not in 1.8 mode): a key still processing answers 425, a processed key (success or error)
 *    answers the stored status and body; both with `x-served-from-cache: true`. No header, no dedupe.
 * 3. The handler runs as one transaction: if it throws, the bank is restored, so no leg of a transfer survives.
 * 4. Maker-checker: the handler's checks run, then everything is rolled back and the answer is
 *    `{commandId, rollbackTransaction: true}` with HTTP 200.
 * 5. The answer (success or error, a 500 from `failMode: 'command-500'` included) is stored under the key; an
 *    armed `timeoutAfterCommit` is consumed.
 */
export async function runCommand(req: CommandRequest): Promise<CommandOutcome> {
  const { ctx, route, command } = req;
  const { control, bank } = ctx;
  const outcome = (status: number, body: unknown, extra: Partial<CommandOutcome> = {}): CommandOutcome => ({
    status,
    body,
    headers: {},
    servedFromCache: false,
    committed: false,
    afterCommit: null,
    ...extra,
  });

  const loanId = ctx.params.loanId;
  if (control.loanLocked && loanId !== undefined) {
    return outcome(409, fineractError(409, 'error.msg.loan.locked', `Loan is locked by the COB job. Loan ID: ${loanId}`));
  }

  const scope = control.version !== '1.8' && req.idempotencyKey ? CommandSource.scope(command, req.idempotencyKey) : undefined;
  if (scope) {
    const seen = req.source.lookup(scope);
    if (seen?.state === 'processing') return outcome(425, undefined, { headers: { ...CACHE_HEADER }, servedFromCache: true });
    if (seen?.state === 'done') {
      return outcome(seen.answer.status, seen.answer.body, { headers: { ...CACHE_HEADER }, servedFromCache: true });
    }
    req.source.begin(scope);
  }

  let reply: Reply;
  let committed = false;
  try {
    if (control.writeLatencyMs > 0) await req.delay(control.writeLatencyMs);
    const commandId = req.source.nextCommandId();
    const snapshot: BankData = structuredClone(bank.data);
    const revision = bank.revision;
    const rollback = (): void => {
      if (bank.revision !== revision) restore(bank.data, snapshot);
      bank.revision = revision;
    };
    try {
      reply = route.handler(ctx);
      if (control.failMode === 'command-500') {
        // An unexpected exception inside the command (SynchronousCommandProcessingService stores it as ERROR/500).
        rollback();
        reply = {
          status: 500,
          body: { Exception: 'java.lang.IllegalStateException: sandbox failure injected inside the command (failMode=command-500)' },
        };
      } else if (control.makerChecker) {
        rollback();
        const entityId = ctx.params.accountId ?? ctx.params.loanId;
        reply = { status: 200, body: { commandId, resourceId: entityId, rollbackTransaction: true } };
      } else {
        committed = reply.status >= 200 && reply.status < 300;
      }
    } catch (err) {
      rollback();
      if (!(err instanceof HttpError)) throw err;
      reply = { status: err.status, body: err.body };
    }
  } catch (err) {
    if (scope) req.source.abandon(scope);
    throw err;
  }

  if (scope) req.source.finish(scope, { status: reply.status, body: reply.body });
  return outcome(reply.status, reply.body, {
    headers: { ...reply.headers },
    committed,
    afterCommit: committed ? control.takeTimeoutAfterCommit() : null,
  });
}

/**
 * Puts every collection back as it was before the command (a rolled-back database transaction). Records read
 * before a rollback are stale afterwards; read them again through the bank.
 */
function restore(data: BankData, snapshot: BankData): void {
  Object.assign(data, snapshot);
}
