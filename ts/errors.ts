/**
 * The errors the TypeScript layer raises itself (the native ones come from the addon with the
 * same shape): an `Error` with a stable `code`, and the `[pglane]` prefix for messages that
 * reach the terminal outside a test (global setup and teardown).
 */
import type { PglaneErrorCode } from '../index';

/** An `Error` with pglane's `code` (and `sqlstate` when Postgres gave one). */
export function pglaneError(code: PglaneErrorCode, message: string, extra: { sqlstate?: string; cause?: unknown } = {}): Error & { code: PglaneErrorCode } {
  const err = new Error(message) as Error & { code: PglaneErrorCode; sqlstate?: string };
  err.code = code;
  if (extra.sqlstate) err.sqlstate = extra.sqlstate;
  if (extra.cause !== undefined) (err as Error & { cause?: unknown }).cause = extra.cause;
  return err;
}

/**
 * `err` as Playwright should print it from global setup: `[pglane] PGLANE_CODE: message`,
 * with `code`, `sqlstate` and `cause` kept. An error that already has the prefix is returned
 * as it is.
 */
export function setupError(err: unknown): Error {
  const e = err as { code?: string; message?: string; sqlstate?: string; cause?: unknown } | undefined;
  const message = e?.message ?? String(err);
  if (message.startsWith('[pglane]')) return err as Error;
  const code = e?.code && e.code.startsWith('PGLANE_') ? e.code : undefined;
  const out = new Error(`[pglane] ${code ? `${code}: ` : ''}${message}`) as Error & { code?: string; sqlstate?: string; cause?: unknown };
  if (code) out.code = code;
  if (e?.sqlstate) out.sqlstate = e.sqlstate;
  if (e?.cause !== undefined) out.cause = e.cause;
  else if (!code && err instanceof Error) out.cause = err;
  return out;
}
