/**
 * pglane's main entry: the native addon (WorkerContext, ResourceTracker, CleanupManager,
 * Factories, DbLocks, Db, createWorkerScoped*) plus what is better written in JS on top of the
 * native methods: the helpers that run JS callbacks (`withLock`), the fast path of
 * `ctx.name()`, the conversion of query parameters JSON has no form for (`Date`, bytes,
 * `bigint`), and the factory-types map (`PglaneFactories`) that typed fixtures read.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import * as native from '../index';
import type { LockOptions } from '../index';

export * from '../index';
export * from './factory-types';
export {
  generateTypes,
  renderTypes,
  recordedHash,
  typedFactories,
  type TypedFactories,
  type TypesOptions,
  type TypesResult,
} from './types';

/** A lock key: a string (hashed to a stable 64-bit key) or a pair of 32-bit integers. */
export type LockKey = string | [number, number];

declare module '../index' {
  interface DbLocks {
    /**
     * Runs `fn` while holding `key`, and always releases it, also when `fn` throws. The scope
     * defaults to `"auto"`: a session lock, or a transaction lock through a transaction-mode
     * pooler. Concurrent callers on the same `DbLocks` run one after another; a `withLock` of
     * the same key nested inside `fn` runs at once (re-entrant).
     */
    withLock<T>(key: LockKey, fn: () => T | Promise<T>, options?: LockOptions): Promise<T>;
    /** `withLock` on the key of an email (lower-cased): e.g. around creating a user. */
    withEmailLock<T>(email: string, fn: () => T | Promise<T>, options?: LockOptions): Promise<T>;
    /** `withLock` on the key of a unique slug of a table: e.g. around creating an org. */
    withSlugLock<T>(table: string, slug: string, fn: () => T | Promise<T>, options?: LockOptions): Promise<T>;
  }
}

// ctx.name() runs for every row a test names: a call into native code and two string
// conversions cost ~600 ns, a JS concatenation ~70 ns. Names that are certainly valid (1 to 128
// UTF-16 units, no control character: a strict subset of what the native check accepts) are
// joined here to the lane prefix the native side computed; anything else goes to the native
// method, which decides and throws PGLANE_INVALID_NAME. A lone surrogate reaches native code as
// U+FFFD (so '\uD800' and '\uDC00' would be one name there and another one here): any
// surrogate (a lone one, or a pair such as an emoji, which the native method accepts) and U+FFFD
// itself go to the native method. The prefix is kept on the context under a symbol: one
// property load, where a WeakMap lookup cost a few ns of a ~50 ns call.
const NOT_CERTAIN = /[\u0000-\u001f\u007f-\u009f\ud800-\udfff\ufffd]/;
const TEST_PREFIX = Symbol('pglane.testPrefix');
type WithPrefix = native.WorkerContext & { [TEST_PREFIX]?: string };
const nativeName = native.WorkerContext.prototype.name;
native.WorkerContext.prototype.name = function name(this: WithPrefix, base: string): string {
  if (typeof base === 'string' && base.length > 0 && base.length <= 128 && !NOT_CERTAIN.test(base)) {
    const prefix = this[TEST_PREFIX] ?? (this[TEST_PREFIX] = this.prefix('test'));
    return prefix + base;
  }
  return nativeName.call(this, base);
};

const proto = native.DbLocks.prototype as native.DbLocks;

/** Keys held by the current async call chain, so a nested withLock of the same key re-enters. */
const heldHere = new AsyncLocalStorage<ReadonlySet<string>>();
/** Per DbLocks and key: the tail of the queue of in-process callers. */
const queues = new WeakMap<native.DbLocks, Map<string, Promise<void>>>();

proto.withLock = async function withLock<T>(this: native.DbLocks, key: LockKey, fn: () => T | Promise<T>, options?: LockOptions): Promise<T> {
  const id = typeof key === 'string' ? `s:${key}` : `p:${key[0]},${key[1]}`;
  const held = heldHere.getStore();
  if (held?.has(id)) return fn();
  let queue = queues.get(this);
  if (!queue) queues.set(this, (queue = new Map()));
  const before = queue.get(id) ?? Promise.resolve();
  let done!: () => void;
  const mine = new Promise<void>((resolve) => (done = resolve));
  const tail = before.then(() => mine);
  queue.set(id, tail);
  try {
    await before;
    await this.lock(key, { scope: 'auto', ...options });
    try {
      return await heldHere.run(new Set([...(held ?? []), id]), fn);
    } finally {
      await this.unlock(key);
    }
  } finally {
    done();
    if (queue.get(id) === tail) queue.delete(id);
  }
};

proto.withEmailLock = function withEmailLock<T>(this: native.DbLocks, email: string, fn: () => T | Promise<T>, options?: LockOptions) {
  return this.withLock(`email:${email.trim().toLowerCase()}`, fn, options);
};

proto.withSlugLock = function withSlugLock<T>(this: native.DbLocks, table: string, slug: string, fn: () => T | Promise<T>, options?: LockOptions) {
  return this.withLock(`slug:${table}:${slug}`, fn, options);
};

// Query parameters: the native side takes JSON values. Values JSON has no form for are
// converted here the way the `pg` package sends them: a Date as an ISO 8601 timestamp, bytes
// as bytea hex (`\x...`), a bigint as its digits; arrays item by item.
function toParam(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array) return `\\x${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')}`;
  if (Array.isArray(value)) return value.map(toParam);
  return value;
}

const dbProto = native.Db.prototype;
for (const method of ['query', 'one', 'many', 'execute'] as const) {
  const call = dbProto[method] as (this: native.Db, sql: string, params?: readonly unknown[] | null) => Promise<unknown>;
  (dbProto as unknown as Record<string, unknown>)[method] = function (this: native.Db, sql: string, params?: readonly unknown[] | null) {
    return call.call(this, sql, params ? params.map(toParam) : params);
  };
}
