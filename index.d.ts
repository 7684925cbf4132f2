/** A stable pglane error code, carried by `error.code` of every error pglane throws. */
export type PglaneErrorCode =
  | 'PGLANE_INVALID_NAME'
  | 'PGLANE_INVALID_CONFIG'
  | 'PGLANE_DB_AUTH'
  | 'PGLANE_DB_UNREACHABLE'
  | 'PGLANE_DB_NOT_FOUND'
  | 'PGLANE_DB_TLS'
  | 'PGLANE_DB_TOO_MANY_CONNECTIONS'
  | 'PGLANE_DB_TIMEOUT'
  | 'PGLANE_DB_CONNECTION_LOST'
  | 'PGLANE_DB_QUERY'
  | 'PGLANE_CONFLICT'
  | 'PGLANE_FOREIGN_KEY_VIOLATION'
  | 'PGLANE_LOCK_TIMEOUT'
  | 'PGLANE_DEADLOCK'
  | 'PGLANE_LOCK_NOT_AVAILABLE'
  | 'PGLANE_POOLER_UNSUPPORTED'
  | 'PGLANE_INTERNAL'

/** An error thrown by pglane. */
export interface PglaneError extends Error {
  code: PglaneErrorCode
}


/**
 * Which binding artifact the generated loader actually loaded: `'native'` for
 * a native addon, otherwise the `platformArchABI` of the WASI flavor. Every
 * flavor napi-rs can build is listed, because `NAPI_RS_NATIVE_LIBRARY_PATH`
 * can point the loader at a WASI artifact this package does not build itself.
 */
export declare const __napiBindingTarget: 'native' | 'wasm32-wasi' | 'wasm32-wasip1'

/**
 * A database handle: its settings and a small connection pool. `Db.connect(null)` and
 * `Db.default()` use `DATABASE_URL`, else the embedded server started by the global setup,
 * else libpq's `PG*` variables.
 */
export declare class Db {
  /**
   * A handle for `url` (or the default settings when `null`), with options on top. Settings
   * are checked now; the first connection opens on first use.
   */
  static connect(url?: string | undefined | null, options?: DbOptions | undefined | null): Db
  /** The process's shared default handle. */
  static default(): Db
  /** Connects (if needed) and asks the server about the session. One round trip. */
  serverInfo(): Promise<ServerInfo>
  /** Round trips made through this handle so far (pipelined requests count once). */
  get roundTrips(): number
  /** Connections open now. */
  get openConnections(): number
  /** The pool's limit. */
  get poolSize(): number
  /** The settings as a URL with the password masked. */
  get url(): string
  /** `user@host:port/database`. */
  describe(): string
  /** Closes the pool. */
  close(): void
}

/**
 * One test's lane: unique names, emails, slugs and UUIDs, and LIKE patterns that match
 * exactly this test's (or worker's, or run's) names.
 */
export declare class WorkerContext {
  /**
   * The context of the test described by `testInfo` (Playwright's `TestInfo` or a plain
   * object). Calling it again for the same test returns the same lane.
   */
  static create(testInfo?: TestInfoLike | undefined | null, options?: WorkerContextOptions | undefined | null): WorkerContext
  /** The worker id in names: Playwright's `workerIndex`. */
  get workerId(): number
  /** Same as `workerId`, for code written against the reference utilities. */
  getWorkerId(): number
  /** This test's index within its worker process. */
  get testIndex(): number
  /** Same as `testIndex`. */
  getTestIndex(): number
  /** The run id shared by every worker of this `playwright test` run. */
  get runId(): string
  /** The retry number of the test. */
  get retry(): number
  /** The `--repeat-each` index of the test. */
  get repeatEachIndex(): number
  /** The worker slot (`parallelIndex`), when known. */
  get parallelIndex(): number | null
  /** Playwright's test id, when known. */
  get testId(): string | null
  /** The project name, when known. */
  get projectName(): string | null
  /**
   * A unique name: `{run}-w{worker}-{test}-{base}`. Throws `PGLANE_INVALID_NAME` for an
   * empty base, one over 128 characters, or one with control characters.
   */
  name(base: string): string
  /** A unique lowercase email in the lane, e.g. `{run}-w3-7-alice@pglane.test`. */
  email(base: string): string
  /** A unique URL-safe slug (`a-z`, `0-9`, `-`). */
  slug(base: string): string
  /** A new time-ordered UUID (v7). */
  uuid(): string
  /** LIKE pattern of this test's names (`%`, `_` and `\` escaped). */
  testPattern(): string
  /** LIKE pattern of this worker's names. */
  workerPattern(): string
  /** LIKE pattern of this run's names. */
  runPattern(): string
  /** LIKE pattern of a scope: `"test"`, `"worker"` or `"run"`. */
  likePattern(scope: string): string
  /** The literal prefix of a scope's names (no escaping): `"test"`, `"worker"` or `"run"`. */
  prefix(scope: string): string
}

/** Options of `Db.connect`; each overrides the URL and the environment. */
export interface DbOptions {
  /** Connections per process (default 2). */
  poolSize?: number
  /** Time allowed to open a connection, in ms (default 10000). */
  connectTimeoutMs?: number
  /** Time allowed for one operation before pglane cancels it, in ms (default 60000). */
  statementTimeoutMs?: number
  /** `application_name` of pglane's sessions (default `pglane`). */
  applicationName?: string
  /** `"auto"`, `"none"` or `"transaction"`: whether a transaction-mode pooler is in front. */
  pooler?: string
}

/** Every error code pglane can throw, e.g. `PGLANE_DB_AUTH`. */
export declare function errorCodes(): Array<string>

/** Escapes `\`, `%` and `_` so a string matches itself literally in a LIKE pattern. */
export declare function escapeLike(text: string): string

/** A new run id: 10 characters, sortable by start time, random in the last four. */
export declare function generateRunId(): string

/** The parts of a Playwright project pglane reads. */
export interface ProjectLike {
  /** Project name. */
  name?: string
}

/** What the server says about pglane's session. */
export interface ServerInfo {
  /** e.g. 180001 */
  serverVersionNum: number
  /** e.g. "18.1" */
  serverVersion: string
  /** The backend process id. */
  backendPid: number
  /** `application_name` as the server sees it. */
  applicationName: string
  /** Whether the session is encrypted. */
  ssl: boolean
  /** `current_database()` */
  database: string
  /** `current_user` */
  user: string
}

/** The parts of Playwright's `TestInfo` pglane reads. A real `TestInfo` or a plain object. */
export interface TestInfoLike {
  /** Unique per worker process within a run. */
  workerIndex?: number
  /** The worker slot (0..workers-1). */
  parallelIndex?: number
  /** The retry number (0 on the first attempt). */
  retry?: number
  /** The `--repeat-each` index. */
  repeatEachIndex?: number
  /** Playwright's stable test id. */
  testId?: string
  /** The project the test runs in. */
  project?: ProjectLike
}

/** Options of `WorkerContext.create`; each falls back to an environment variable. */
export interface WorkerContextOptions {
  /** Run id (default: `PGLANE_RUN_ID`, set by the global setup, or one per process). */
  runId?: string
  /** Name format (default `{run}-w{worker}-{test}-{name}`, or `PGLANE_NAME_FORMAT`). */
  nameFormat?: string
  /** Domain of lane emails (default `pglane.test`, or `PGLANE_EMAIL_DOMAIN`). */
  emailDomain?: string
}
