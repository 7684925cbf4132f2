/**
 * Retrying the teardown's database work when the database is briefly away: a backend
 * terminated under it (`pg_terminate_backend`, a pooler recycling its server connections), a
 * server restart or failover. Without it, one such moment at the end of a run fails the
 * teardown and leaves the run registered with its rows, until a later run's sweep.
 *
 * Only errors that time can cure are retried (their codes below); every other error, and a
 * cleanup failure the database reported (a trigger refusing a delete), is final at once.
 */
import { pglaneError } from '../errors';

/** Codes of errors a retry can outlive: a lost connection, an unreachable server, a timeout. */
export const TRANSIENT_CODES: ReadonlySet<string> = new Set(['PGLANE_DB_CONNECTION_LOST', 'PGLANE_DB_UNREACHABLE', 'PGLANE_DB_TIMEOUT']);

/** How long to keep trying. The defaults outlast a server restart (seconds) and stay bounded. */
export interface RetryPolicy {
  /** Give up once this much time has passed since the first attempt (default 30 000). */
  budgetMs: number;
  /** The first pause; each next one doubles, up to `maxDelayMs` (default 250). */
  firstDelayMs: number;
  /** The longest pause (default 4 000). */
  maxDelayMs: number;
}

export const TEARDOWN_RETRY: RetryPolicy = { budgetMs: 30_000, firstDelayMs: 250, maxDelayMs: 4_000 };

/** Whether `err` is one a retry can outlive. */
export function isTransient(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && TRANSIENT_CODES.has(code);
}

/**
 * Runs `fn` until it succeeds, retrying transient errors with exponential backoff within the
 * policy's budget. `what` names the work in the messages ("sweeping run 1ig62yzogr"); `say`
 * prints them (each starts with `[pglane]`). Gives up with the last error's code and a message
 * saying how long it tried; any other error is rethrown as it is.
 */
export async function retryTransient<T>(what: string, fn: () => Promise<T>, say: (message: string) => void, policy: RetryPolicy = TEARDOWN_RETRY): Promise<T> {
  const started = Date.now();
  let delay = policy.firstDelayMs;
  for (let attempt = 1; ; attempt++) {
    try {
      const value = await fn();
      if (attempt > 1) say(`[pglane] ${what}: succeeded on attempt ${attempt}`);
      return value;
    } catch (err) {
      if (!isTransient(err)) throw err;
      const e = err as Error & { code: string; sqlstate?: string };
      const elapsed = Date.now() - started;
      if (elapsed + delay > policy.budgetMs) {
        throw pglaneError(
          e.code as Parameters<typeof pglaneError>[0],
          `${what} failed ${attempt} time(s) over ${Math.round(elapsed / 1000)} s, the last time with ${e.code}: ${e.message}`,
          { sqlstate: e.sqlstate, cause: err },
        );
      }
      say(`[pglane] ${what} failed (${e.code}: ${e.message}); trying again in ${delay} ms`);
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, policy.maxDelayMs);
    }
  }
}
