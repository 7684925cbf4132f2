/** A stable pglane error code, carried by `error.code` of every error pglane throws. */
export type PglaneErrorCode =
  | 'PGLANE_INVALID_NAME'
  | 'PGLANE_INVALID_CONFIG'
  | 'PGLANE_INVALID_ARGUMENT'
  | 'PGLANE_NOT_TEST_DATABASE'
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
  | 'PGLANE_LOCK_NOT_HELD'
  | 'PGLANE_POOLER_UNSUPPORTED'
  | 'PGLANE_UNKNOWN_TABLE'
  | 'PGLANE_BAD_KEY'
  | 'PGLANE_FACTORY_UNKNOWN'
  | 'PGLANE_FACTORY_FIELD'
  | 'PGLANE_FACTORY_TRAIT'
  | 'PGLANE_FACTORY_DEFINITION'
  | 'PGLANE_FACTORY_VALUE'
  | 'PGLANE_FACTORY_INFER'
  | 'PGLANE_AUTH_API'
  | 'PGLANE_AUTH_RATE_LIMITED'
  | 'PGLANE_ROW_COUNT'
  | 'PGLANE_SCHEMA_FILE'
  | 'PGLANE_FIXTURE_SCOPE'
  | 'PGLANE_EMBEDDED_SETUP'
  | 'PGLANE_INTERNAL'

/** An error thrown by pglane. */
export interface PglaneError extends Error {
  code: PglaneErrorCode
  /** Postgres' SQLSTATE, when Postgres reported the error (e.g. `23505`). */
  sqlstate?: string
  /** The underlying error's text, secrets removed, when there is one. */
  cause?: Error
}


/** A row as Postgres stored it: column names as in the schema, values as JSON. */
export type Row = Record<string, any>

/** `auth.users` row with the identity and profile the preset creates with it. */
export interface UserRow extends Row {
  id: string
  email: string
  aud: 'authenticated'
  role: 'authenticated'
  encrypted_password: string
  email_confirmed_at: string | null
  raw_app_meta_data: Record<string, unknown>
  raw_user_meta_data: Record<string, unknown>
  identity: Row & { id: string; provider: 'email'; provider_id: string; identity_data: Record<string, unknown> }
  profile: Row & { id: string; email: string; full_name: string | null; onboarded: boolean }
}

/** `public.organizations` row (with `ownerMembership` when `ownerId` was given). */
export interface OrganizationRow extends Row {
  id: string
  name: string
  slug: string
  created_by: string | null
  ownerMembership?: Row
}

/** `public.groups` row (with `organization` when one was created for it). */
export interface GroupRow extends Row {
  id: string
  organization_id: string
  name: string
  organization?: OrganizationRow
}

/** `public.models` row. */
export interface ModelRow extends Row {
  id: string
  organization_id: string
  name: string
  provider: string
  model_key: string
  organization?: OrganizationRow
}

/** `public.invites` row. */
export interface InviteRow extends Row {
  id: string
  organization_id: string
  email: string
  role: string
  token: string
  invited_by: string | null
  organization?: OrganizationRow
}

/** Everything `createWorkerScopedCompleteSetup` creates, by step. */
export interface CompleteSetup {
  user: UserRow
  organization: OrganizationRow
  membership: Row
  group: GroupRow
  groupMember: Row
  model: ModelRow
  groupModel: Row
  invite: InviteRow
}

/** Deletes a test's rows in foreign-key order, with the rows that reference them, verified. */
export declare class CleanupManager {
  /** `db`: a `Db`, or `null` for the tracker's database. */
  constructor(db: Db | undefined | null, tracker: ResourceTracker, options?: CleanupManagerOptions | undefined | null)
  /**
   * Deletes the tracked rows and their dependents; forgets them once gone. A second call is
   * a no-op. Partial failures are in `report.failures`; it throws only when nothing could be
   * done (the database is unreachable or the connection broke), and then the tracker keeps
   * its rows, so a retry works.
   */
  cleanup(): Promise<CleanupReport>
  /**
   * Deletes a whole lane by name: `"test"`, `"worker"` or `"run"` (this tracker's lane), or
   * a LIKE pattern of this run such as `ctx.workerPattern()`; plus the rows referencing it.
   * A pattern that is not a lane's own (`'%'`, `'abcd%'`, another run's) rejects with
   * `PGLANE_INVALID_CONFIG` and deletes nothing; so does a database not marked as a test
   * database (`PGLANE_NOT_TEST_DATABASE`) unless `allowUnmarked`.
   */
  cleanupPattern(scopeOrPattern: string, options?: LaneOptions | undefined | null): Promise<CleanupReport>
  /**
   * Lists rows left in a lane (`"test"`, `"worker"`, `"run"` or a LIKE pattern), per table.
   * An empty list proves the lane clean.
   */
  verifyNoLeakedData(scopeOrPattern: string, options?: LaneOptions | undefined | null): Promise<LeakedRows[]>
}

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
  /**
   * Runs a SQL script (several statements, no parameters) with the simple query protocol,
   * e.g. a schema file in global setup. Not for values: pglane never pastes values into SQL.
   */
  executeScript(sql: string): Promise<void>
  /**
   * What pglane finds on this database: connection and TLS, pooler, permissions, the schema
   * graph, foreign keys without an index (slow cleanups), lane columns. Reads only.
   */
  doctor(): Promise<Diagnosis>
  /**
   * Runs one statement with `$1, $2, ...` parameters and resolves with its rows, as JSON
   * objects keyed by column: the values Postgres' `to_json` gives (the same a factory
   * returns). Parameters go as text and the server infers their types, as with the `pg`
   * package: strings, numbers, booleans, `null`, arrays (array literals), objects (JSON);
   * `Date`, `Buffer` and `bigint` are converted by pglane's JS entry. One round trip, an
   * unnamed statement: safe through transaction-mode poolers.
   */
  query<T = Row>(sql: string, params?: readonly unknown[] | null): Promise<T[]>
  /** `query` for exactly one row: resolves with it, or rejects with `PGLANE_ROW_COUNT`. */
  one<T = Row>(sql: string, params?: readonly unknown[] | null): Promise<T>
  /** `query` for at least one row: rejects with `PGLANE_ROW_COUNT` when there is none. */
  many<T = Row>(sql: string, params?: readonly unknown[] | null): Promise<T[]>
  /**
   * Runs one statement with parameters and resolves with the number of rows it returned or
   * changed (`update ... where ...` without `RETURNING`: the rows updated).
   */
  execute(sql: string, params?: readonly unknown[] | null): Promise<number>
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
 * PostgreSQL advisory locks, no database functions needed. Keys are strings (hashed to a
 * stable 64-bit key in pglane's namespace) or `[int, int]` pairs.
 */
export declare class DbLocks {
  /** Locks on `db` (or the default database). */
  constructor(db?: Db | undefined | null, options?: DbLocksOptions | undefined | null)
  /** The 64-bit key a string maps to (FNV-1a 64 of `namespace + "\0" + key`), as text. */
  keyOf(key: string): string
  /**
   * Waits for the lock (default 10 s). Throws `PGLANE_LOCK_TIMEOUT`, `PGLANE_DEADLOCK`, or
   * `PGLANE_POOLER_UNSUPPORTED` for a session lock through a transaction-mode pooler.
   */
  lock(key: string | [number, number], options?: LockOptions): Promise<void>
  /** Takes the lock if free; resolves false at once when another holder has it. */
  tryLock(key: string | [number, number], options?: LockOptions): Promise<boolean>
  /** Releases one hold. Throws `PGLANE_LOCK_NOT_HELD` for a lock this holder does not hold. */
  unlock(key: string | [number, number]): Promise<void>
  /** The locks held now. */
  held(): Promise<HeldLock[]>
  /**
   * Releases every lock (the Playwright fixture calls this at the end of each test).
   * Resolves with how many were held.
   */
  releaseAll(): Promise<number>
  /** Whether the database is reached through a transaction-mode pooler. */
  behindTransactionPooler(): Promise<boolean>
}

/**
 * Factories defined as data (YAML or a JS object). Every row they insert is tracked and comes
 * back as the database stored it (ids, defaults). One call is one statement: a multi-row
 * factory is atomic.
 */
export declare class Factories {
  /** The reference application's preset (the factories behind `createWorkerScoped*`). */
  static preset(db?: Db | undefined | null): Factories
  /** Factories from YAML text. Throws `PGLANE_FACTORY_DEFINITION` naming the mistake. */
  static fromYaml(yaml: string, db?: Db | undefined | null): Factories
  /**
   * No definitions: every table is a factory, its rows inferred from the schema
   * (`create('public.tasks', ctx, tracker)`).
   */
  static fromSchema(db?: Db | undefined | null): Factories
  /** Factories from a JS object of the same shape as the YAML. */
  static fromObject(definitions: any, db?: Db | undefined | null): Factories
  /**
   * Factories of several sources in one registry (a factory of one may use another's); a
   * name defined twice is `PGLANE_FACTORY_DEFINITION` naming both sources.
   */
  static fromSources(sources: FactorySource[], db?: Db | undefined | null): Factories
  /** Factory names. */
  names(): Array<string>
  /** The lane columns the definitions declare, `{ 'schema.table': ['name'] }`. */
  laneColumns(): Record<string, Array<string>>
  /**
   * Inserts one row (or one set of rows) with factory `name`, or into table `name`
   * (`'public.tasks'`: inferred, required parents included, when no definition has that
   * name); tracks them in `tracker`. `attrs` sets columns, parameters, associations
   * (`organizationId`, or the parent row), relations (`{ project: projectRow }`) or, for a
   * multi-row factory, per-step attributes.
   */
  create(name: string, ctx: WorkerContext, tracker: ResourceTracker, attrs?: any | undefined | null, options?: FactoryOptions | undefined | null): Promise<Record<string, any>>
  /**
   * Inserts `count` rows (or sets) with factory `name` in one statement. `count` is an
   * integer from 0 to 10000; anything else rejects with `PGLANE_INVALID_ARGUMENT`.
   */
  createList(name: string, count: number, ctx: WorkerContext, tracker: ResourceTracker, attrs?: any | undefined | null, options?: FactoryOptions | undefined | null): Promise<Record<string, any>[]>
  /** The values `create` would insert, without inserting (database defaults are absent). */
  build(name: string, ctx: WorkerContext, attrs?: any | undefined | null, options?: FactoryOptions | undefined | null, db?: Db | undefined | null): Record<string, any>
  /**
   * The live schema's tables (columns with their JS types, relations) and this registry's
   * factories: what `npx pglane types` writes declarations from. Reads the catalog again.
   */
  describe(db?: Db | undefined | null): Promise<SchemaDescription>
}

/**
 * Records every row a test created (table and primary key), checked against the schema at
 * once: an unknown table throws `PGLANE_UNKNOWN_TABLE`, a key that does not fit the primary
 * key throws `PGLANE_BAD_KEY`.
 */
export declare class ResourceTracker {
  /** The tracker of a test. `db` defaults to the process's default database. */
  static forTest(testInfo: TestInfoLike | undefined | null, ctx: WorkerContext, db?: Db | undefined | null): ResourceTracker
  /**
   * A tracker from `export()`'s JSON (e.g. handed over by a crashed worker). Its patterns
   * are never trusted: pattern cleanup builds them again from its run id and name format.
   */
  static import(json: string, db?: Db | undefined | null): ResourceTracker
  /**
   * Tracks a row of any table: `key` is the primary key value, an array of values in key
   * order, or an object keyed by column. Returns the row as tracked.
   * When the run registry exists (pglane's global setup ran), the key is also journaled in
   * the background, so a worker killed later still leaves a trail; `flush()` waits for it.
   */
  track(table: string, key: any): TrackedRow
  /**
   * Waits until every row tracked by hand is journaled. Resolves with how many could not be
   * journaled (the rows stay tracked either way).
   */
  flush(): Promise<number>
  /** Tracks a row of `auth.users`. */
  trackAuthUser(id: any): TrackedRow
  /** Tracks a row of `public.profiles`. */
  trackProfile(id: any): TrackedRow
  /** Tracks a row of `public.organizations`. */
  trackOrganization(id: any): TrackedRow
  /** Tracks a row of `public.organization_members`. */
  trackOrgMember(id: any): TrackedRow
  /** Tracks a row of `public.groups`. */
  trackGroup(id: any): TrackedRow
  /** Tracks a row of `public.group_members`. */
  trackGroupMember(id: any): TrackedRow
  /** Tracks a row of `public.models`. */
  trackModel(id: any): TrackedRow
  /** Tracks a row of `public.group_models`. */
  trackGroupModel(id: any): TrackedRow
  /** Tracks a row of `public.invites`. */
  trackInvite(id: any): TrackedRow
  /** Tracks a row of `public.conversations`. */
  trackConversation(id: any): TrackedRow
  /** Tracks a row of `public.messages`. */
  trackMessage(id: any): TrackedRow
  /** The tracked rows, in tracking order. */
  list(): Array<TrackedRow>
  /**
   * How many rows are tracked (an entry of a table without a primary key counts once, for
   * all the test's rows of that table).
   */
  count(): number
  /** Forgets every row (nothing is deleted). */
  clear(): void
  /** The tracker as JSON: `{ version: 1, lane, rows }`. */
  export(): string
  /** The run id of the lane. */
  get runId(): string
  /** LIKE pattern of the lane's test, worker or run names (`"test"` by default). */
  lanePattern(scope?: 'test' | 'worker' | 'run' | undefined | null): string
}

/**
 * Runs of `playwright test` registered in the database, and the sweeper that removes what a
 * dead run left behind. Used by pglane's global setup and teardown.
 */
export declare class RunRegistry {
  /** The registry on `db` (or the default database). */
  constructor(db?: Db | undefined | null)
  /**
   * Creates the `pglane` schema and its tables if they do not exist (safe from many
   * processes at once), or uses the ones an admin created and granted. A role that may do
   * neither gets `ready: false` and what is `missing`, not an error.
   */
  ensureSchema(): Promise<SchemaStatus>
  /**
   * Applies the schema files that are new to this database, in order, in one transaction,
   * and records each by name and SHA-256 in `pglane.schema_files`; recorded ones are skipped.
   * A failure is `PGLANE_SCHEMA_FILE` naming file, line and statement; a file changed since
   * it was applied is one too, unless its `onChange` says `"reapply"` or `"skip"`. With
   * `recorded: false` (no `pglane` schema) every file is applied.
   */
  applySchemaFiles(files: SchemaFileInput[], runId: string, recorded: boolean): Promise<SchemaFileOutcome[]>
  /** Marks the database as a test database, which allows sweeps and pattern cleanups. */
  markTestDatabase(): Promise<void>
  /**
   * Whether the database is marked as a test database (false on a database without
   * pglane's schema).
   */
  isTestDatabase(): Promise<boolean>
  /**
   * Registers a run with its name format, heartbeat interval and time-to-live. `lanePattern`
   * may be left out; when given it must be the run's own pattern (it is derived from the run
   * id, 8 to 32 characters of `0-9a-z`, and the name format, never taken as given). Resolves
   * true when the run was not registered (new, or swept by another run and registered
   * again), false when it was (its heartbeat is refreshed).
   */
  register(runId: string, host: string, pid: number, lanePattern?: string | null, options?: RegisterOptions): Promise<boolean>
  /**
   * Records that the run is alive (and, when given, its heartbeat interval and TTL as they
   * are now). Resolves false when the run is not registered (another run swept it, or it
   * was forgotten): register it again, and its teardown can clean its rows.
   */
  heartbeat(runId: string, options?: RegisterOptions): Promise<boolean>
  /** Every registered run. */
  runs(): Promise<RunInfo[]>
  /**
   * Dead runs: each judged by the heartbeat interval and time-to-live it recorded itself;
   * `fallbackTtlSeconds` (a number of seconds above 0) judges only runs registered by an
   * older pglane, which recorded none.
   */
  expired(fallbackTtlSeconds: number): Promise<RunInfo[]>
  /** Rows a run still has in the database, per table (journal keys and lane names). */
  leftovers(runId: string, options?: SweepOptions | undefined | null): Promise<LeakedRows[]>
  /**
   * What `sweep(runId)` would delete, per table with the foreign-key path to it, deleting
   * nothing (a dry run).
   */
  plan(runId: string, options?: SweepOptions | undefined | null): Promise<PlannedTable[]>
  /**
   * Deletes what a run left (journal keys and lane names, with their dependents) and forgets
   * the run. Refuses an unmarked database (`PGLANE_NOT_TEST_DATABASE`) unless
   * `allowUnmarked` or `PGLANE_ALLOW_SWEEP=1`.
   */
  sweep(runId: string, options?: SweepOptions | undefined | null): Promise<CleanupReport>
  /** Forgets a run and its journal without deleting rows. */
  forget(runId: string): Promise<void>
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
  likePattern(scope: 'test' | 'worker' | 'run'): string
  /** The literal prefix of a scope's names (no escaping): `"test"`, `"worker"` or `"run"`. */
  prefix(scope: 'test' | 'worker' | 'run'): string
}

/** An association of a factory. */
export interface AssociationDescription {
  /** Its name. */
  name: string
  /** The parent's factory. */
  factory: string
  /** The parameter that gives the parent's key. */
  param?: string
}

/**
 * A signed-in Supabase user: the rows written (all tracked) and what a test needs to act as
 * the user.
 */
export interface AuthenticatedUser {
  /** The `auth.users` row as stored, with `identity` (auth.identities) and `profile`. */
  user: Record<string, any>
  /** The `auth.sessions` id, also the JWT's `session_id`. */
  sessionId: string
  /**
   * The access token: a JWT signed HS256 (JWT secret), ES256/RS256 (signing key, with its
   * `kid`), or by Supabase Auth itself (password grant).
   */
  accessToken: string
  /** The refresh token, as stored in `auth.refresh_tokens`. */
  refreshToken: string
  /** When the access token expires, in seconds since the epoch. */
  expiresAt: number
  /**
   * The session as supabase-js stores it: `{ access_token, token_type, expires_in,
   * expires_at, refresh_token, user }`. Hand it to `auth.setSession` or storage.
   */
  session: Record<string, any>
  /** The access token's claims (for `request.jwt.claims` in SQL tests). */
  claims: Record<string, any>
  /** The organization the user owns (`createWorkerScopedUserWithOrg*`). */
  organization?: Record<string, any> | undefined
  /** The user's membership of it. */
  membership?: Record<string, any> | undefined
  /**
   * Playwright storage state (`*WithState`): supabase-js localStorage and `@supabase/ssr`
   * cookies for the app origin.
   */
  storageState?: { cookies: any[]; origins: any[] } | undefined
  /**
   * The file it was written to (`*WithState`), for `test.use({ storageState })` or
   * `browser.newContext({ storageState })`.
   */
  storageStatePath?: string
}

/**
 * Options of the signed-in user functions. Any other key is an attribute of the user
 * (`email`, `password`, `fullName`, `traits`, a column of `auth.users`) or of a step
 * (`session: {...}`, `organization: {...}`, `membership: {...}`, `role` for the membership).
 */
export interface AuthUserOptions {
  /** Origin of the app under test (default `PGLANE_APP_ORIGIN`, else `http://localhost:3000`). */
  appOrigin?: string
  /** The Supabase API URL (default `SUPABASE_URL`, else `http://127.0.0.1:54321`). */
  supabaseUrl?: string
  /**
   * The project's legacy JWT secret for HS256 (default `SUPABASE_JWT_SECRET`, else the local
   * development secret). At least 32 characters; never printed.
   */
  jwtSecret?: string
  /**
   * The project's private signing key for ES256/RS256 (default `SUPABASE_JWT_PRIVATE_KEY`):
   * a private JWK (EC P-256 or RSA, with `kid`) as an object or JSON text, an array or JWKS
   * whose first key is used, or the path of a file holding it. Never printed.
   */
  signingKey?: string | Record<string, any> | Record<string, any>[]
  /**
   * The project's anon or publishable key, for the password grant (default
   * `SUPABASE_ANON_KEY`, else `SUPABASE_PUBLISHABLE_KEY`). Never printed.
   */
  apiKey?: string
  /**
   * How sessions are made (default `PGLANE_SUPABASE_SESSION_MODE`, else picked from what is
   * configured: a signing key, else a JWT secret, else an API key with a Supabase URL not on
   * this machine, else the local development secret): `secret` (HS256), `key` (ES256 /
   * RS256), `password` (Supabase Auth signs the user in).
   */
  sessionMode?: 'secret' | 'key' | 'password'
  /** Access token lifetime in seconds (default 3600). */
  expiresIn?: number
  /** Folder of storage state files (default `playwright/.auth`). */
  dir?: string
}

/** A group of tables that could not be cleaned. */
export interface CleanupFailure {
  /** `schema.table` of each table in the group (several for a cycle). */
  tables: Array<string>
  /** Tracked keys of those tables (at most 20). */
  keys: Array<Array<string>>
  /** pglane error code. */
  code: string
  /** Postgres SQLSTATE. */
  sqlstate?: string
  /** What Postgres said. */
  message: string
}

/** Options of `new CleanupManager(db, tracker, options)`. */
export interface CleanupManagerOptions {
  /** Prove afterwards that the tracked rows are gone (default true; costs no extra round trip). */
  verifyCleanup?: boolean
  /** Also delete rows that reference tracked rows, e.g. created through the UI (default true). */
  includeDependents?: boolean
  /**
   * Delete and count every dependent row in pglane's statement, even those an
   * `ON DELETE CASCADE` removes anyway (default false: faster; such tables are listed in
   * `report.cascaded`, uncounted).
   */
  countDependents?: boolean
}

/** What a cleanup did. */
export interface CleanupReport {
  /** Rows deleted per `schema.table` by pglane's statement. */
  deleted: Record<string, number>
  /**
   * Tables whose rows referencing deleted rows Postgres removed through `ON DELETE CASCADE`
   * (not counted in `deleted`; set `countDependents` to count them).
   */
  cascaded: Array<string>
  /** Sum of `deleted`. */
  totalDeleted: number
  /** Groups that failed; empty on success. */
  failures: Array<CleanupFailure>
  /** True when verification proved the tracked rows gone; null when not asked. */
  verified?: boolean
  /** Tracked rows still present per table, when verification ran. */
  remaining: Record<string, number>
  /** Round trips to Postgres (pipelined statements count once). */
  roundTrips: number
  /** Statements sent. */
  statements: number
  /** Wall time in milliseconds. */
  durationMs: number
  /** Whether the group-by-group fallback ran (after the one-statement delete failed). */
  fallback: boolean
}

/** A column of a table, as `describe` gives it. */
export interface ColumnDescription {
  /** Column name. */
  name: string
  /** Type as Postgres spells it. */
  pgType: string
  /** What the values are in JS: `number`, `string`, `boolean`, `json`, `enum` or `unknown`. */
  kind: 'number' | 'string' | 'boolean' | 'json' | 'enum' | 'unknown'
  /** An enum's labels. */
  labels: Array<string>
  /** Array dimensions (0: not an array). */
  array: number
  /** What an insert takes besides: `'string'` for `int8` and `numeric`, `'number'` for `money`. */
  insertAlso?: 'string' | 'number'
  /** Can it be null? */
  nullable: boolean
  /** Can an insert give it a value (not generated, not identity `ALWAYS`)? */
  insertable: boolean
  /** Does Postgres give it a value when an insert does not? */
  hasDefault: boolean
}

/**
 * A signed-in Supabase user: user, email identity (bcrypt password), profile (adopted when a
 * trigger made it), session, refresh token and amr claim in one round trip, all tracked, and
 * an access token signed with the project's JWT secret or signing key; or, with
 * `sessionMode: 'password'`, a session Supabase Auth issues through its password grant (its
 * rows tracked too). Options: `email`, `password`, `fullName`, `traits`, columns, and
 * `supabaseUrl`, `jwtSecret`, `signingKey`, `apiKey`, `sessionMode`, `expiresIn`. A taken
 * email rejects with `PGLANE_CONFLICT`; a 429 of Supabase Auth with
 * `PGLANE_AUTH_RATE_LIMITED`, any other refusal with `PGLANE_AUTH_API`.
 */
export declare function createWorkerScopedAuthenticatedUser(ctx: WorkerContext, tracker: ResourceTracker, options?: AuthUserOptions & Record<string, any>): Promise<AuthenticatedUser>

/**
 * `createWorkerScopedAuthenticatedUser`, plus the Playwright storage state written to
 * `<dir>/<run>-w<worker>-<test>-<user>.json` (options `appOrigin`, `supabaseUrl`, `dir`).
 */
export declare function createWorkerScopedAuthenticatedUserWithState(ctx: WorkerContext, tracker: ResourceTracker, options?: AuthUserOptions & Record<string, any>): Promise<AuthenticatedUser>

/**
 * User, profile, organization, owner membership, group, group member, model, group model
 * and invite, in one atomic statement. Options: `fullName`, `role`, and per-step
 * attributes (`{ organization: { name: 'Acme' } }`).
 */
export declare function createWorkerScopedCompleteSetup(ctx: WorkerContext, tracker: ResourceTracker, options?: Record<string, any>): Promise<CompleteSetup>

/** A group. Options: `organizationId` (else an organization is created), `name`. */
export declare function createWorkerScopedGroup(ctx: WorkerContext, tracker: ResourceTracker, options?: Record<string, any>): Promise<GroupRow>

/** An invite. Options: `organizationId`, `email`, `role`, `invitedBy`. */
export declare function createWorkerScopedInvite(ctx: WorkerContext, tracker: ResourceTracker, options?: Record<string, any>): Promise<InviteRow>

/** A model. Options: `organizationId`, `name`, `provider`, `model_key`. */
export declare function createWorkerScopedModel(ctx: WorkerContext, tracker: ResourceTracker, options?: Record<string, any>): Promise<ModelRow>

/** An organization. Options: `name`, `slug`, `ownerId` (adds the owner membership). */
export declare function createWorkerScopedOrganization(ctx: WorkerContext, tracker: ResourceTracker, options?: Record<string, any>): Promise<OrganizationRow>

/**
 * A Supabase Auth user (`auth.users` + email identity + profile). Options: `email`,
 * `fullName`, `password`, `traits: ['unconfirmed' | 'onboarding']`, any column.
 */
export declare function createWorkerScopedUser(ctx: WorkerContext, tracker: ResourceTracker, options?: Record<string, any>): Promise<UserRow>

/**
 * A signed-in user who has not finished onboarding (profile `onboarded` false, no
 * organization). Options as `createWorkerScopedAuthenticatedUser`.
 */
export declare function createWorkerScopedUserForOnboarding(ctx: WorkerContext, tracker: ResourceTracker, options?: AuthUserOptions & Record<string, any>): Promise<AuthenticatedUser>

/**
 * A signed-in user who owns a new organization (membership role `owner`, or `role`).
 * Options as `createWorkerScopedAuthenticatedUser`, plus `organization: { name, slug }`.
 */
export declare function createWorkerScopedUserWithOrg(ctx: WorkerContext, tracker: ResourceTracker, options?: AuthUserOptions & Record<string, any>): Promise<AuthenticatedUser>

/** `createWorkerScopedUserWithOrg`, plus the Playwright storage state file. */
export declare function createWorkerScopedUserWithOrgAndState(ctx: WorkerContext, tracker: ResourceTracker, options?: AuthUserOptions & Record<string, any>): Promise<AuthenticatedUser>

/** Options of `new DbLocks(db, options)`. */
export interface DbLocksOptions {
  /** Namespace mixed into string keys (default `pglane`; no NUL character). */
  namespace?: string
  /** Default wait of `lock` in ms (default 10000; an integer from 0 to 86400000). */
  timeoutMs?: number
}

/** Options of `Db.connect`; each overrides the URL and the environment. */
export interface DbOptions {
  /** Connections per process (default 2; 1 to 100). */
  poolSize?: number
  /** Time allowed to open a connection, in ms (default 10000). */
  connectTimeoutMs?: number
  /** Time allowed for one operation before pglane cancels it, in ms (default 60000). */
  statementTimeoutMs?: number
  /** `application_name` of pglane's sessions (default `pglane`). */
  applicationName?: string
  /** `"auto"`, `"none"` or `"transaction"`: whether a transaction-mode pooler is in front. */
  pooler?: string
  /**
   * `"auto"` (default: prepared where the settings declare a direct connection, `pooler:
   * "none"`), `"on"` or `"off"`: whether statements are prepared once per connection.
   */
  prepare?: string
}

/** What `db.doctor()` (and `npx pglane doctor`) found. */
export interface Diagnosis {
  /** The server and the session. */
  server: ServerInfo
  /** The `sslmode` pglane connects with. */
  sslmode: string
  /** Is a transaction-mode pooler in front? */
  transactionPooler: boolean
  /** What the role may do. */
  permissions: DoctorPermissions
  /** The schema graph. */
  graph: DoctorGraph
  /**
   * Foreign keys whose referencing columns have no index (`child(cols) → parent`): every
   * cleanup that deletes a parent row scans the child table.
   */
  unindexedForeignKeys: Array<string>
  /** Where lane names are looked for by default: `{ 'schema.table': [text columns] }`. */
  laneColumns: Record<string, Array<string>>
  /** Is the database marked as a test database? */
  testDatabase: boolean
}

/** The schema graph in numbers. */
export interface DoctorGraph {
  /** User schemas with tables. */
  schemas: Array<string>
  /** Tables. */
  tables: number
  /** Foreign keys. */
  foreignKeys: number
  /** Groups of tables referencing each other in a cycle. */
  cycles: Array<Array<string>>
  /**
   * Tables without a primary key or a unique key of `NOT NULL` columns (their rows cannot be
   * tracked by key).
   */
  withoutPrimaryKey: Array<string>
}

/** What the role may do on the database. */
export interface DoctorPermissions {
  /** May it create schemas (pglane's own, at the first run)? */
  createSchema: boolean
  /** Does the `pglane` schema exist? */
  pglaneSchema: boolean
  /** May it use the `pglane` schema? */
  pglaneUsage: boolean
  /** Tables it may not delete from (cleanup cannot remove their rows). */
  noDelete: Array<string>
}

/** Every error code pglane can throw, e.g. `PGLANE_DB_AUTH`. */
export declare function errorCodes(): Array<string>

/** Escapes `\`, `%` and `_` so a string matches itself literally in a LIKE pattern. */
export declare function escapeLike(text: string): string

/** A factory, as `describe` gives it. */
export interface FactoryDescription {
  /** Its name. */
  name: string
  /** The table of a row factory, `schema.table`. */
  table?: string
  /** Trait names. */
  traits: Array<string>
  /** Parameter names. */
  params: Array<string>
  /** Associations. */
  associations: Array<AssociationDescription>
  /** After-steps. */
  after: Array<StepDescription>
  /** Steps of a multi-row factory. */
  steps: Array<StepDescription>
}

/** Options of a factory call. */
export interface FactoryOptions {
  /** Traits to apply, e.g. `['unconfirmed']`. */
  traits?: Array<string>
  /**
   * Which columns inference fills: `'required'` (default: `NOT NULL` columns without a
   * default) or `'all'` (nullable ones too; nullable foreign keys stay null).
   */
  fill?: 'required' | 'all'
  /**
   * Relations connected to existing rows instead of new parents: `{ project: projectRow }`
   * (a row with the referenced columns, or the key itself).
   */
  connect?: Record<string, any>
}

/** One source of `Factories.fromSources`: YAML text, a JS object, or a preset by name. */
export interface FactorySource {
  /** Where it comes from, for messages (e.g. the file's path). */
  name: string
  /** YAML text. */
  yaml?: string
  /** A JS object of the same shape. */
  object?: any
  /** A preset shipped with pglane: `"reference"`. */
  preset?: string
}

/** A new run id: 10 characters, sortable by start time, random in the last four. */
export declare function generateRunId(): string

/** A lock held now. */
export interface HeldLock {
  /** The key as given (a string, or `"a,b"` for a pair). */
  name: string
  /** The Postgres key (`pg_locks.objid`-style text). */
  key: string
  /** `"session"` or `"transaction"`. */
  scope: string
  /** Times taken (locks are re-entrant). */
  count: number
}

/** Options of pattern cleanup and leak checks. */
export interface LaneOptions {
  /**
   * `{ 'schema.table': ['name', 'email'] }`: columns holding lane names. Default: every text
   * column of every table.
   */
  laneColumns?: Record<string, Array<string>>
  /** Also delete rows referencing the matched rows (default true). */
  includeDependents?: boolean
  /** Delete and count every dependent row, cascading ones included (default false). */
  countDependents?: boolean
  /**
   * Delete by name even if the database is not marked as a test database (default false:
   * such a database is refused with `PGLANE_NOT_TEST_DATABASE`; `PGLANE_ALLOW_SWEEP=1`
   * allows it too).
   */
  allowUnmarked?: boolean
}

/** Rows of one table left in a lane. */
export interface LeakedRows {
  /** `schema.table`. */
  table: string
  /** How many rows match the lane. */
  rows: number
}

/** Options of one lock call. */
export interface LockOptions {
  /** How long to wait, in ms (an integer from 0 to 86400000). */
  timeoutMs?: number
  /**
   * `"session"` (default for `lock`), `"transaction"`, or `"auto"` (session, or transaction
   * through a transaction-mode pooler; the default of `withLock`).
   */
  scope?: string
}

/** One table of a dry run: what a sweep would delete there. */
export interface PlannedTable {
  /** `schema.table`. */
  table: string
  /** Rows that would be deleted. */
  rows: number
  /**
   * What seeds the table itself: `lane names`, `tracked or journaled keys` (empty when only
   * foreign keys lead there).
   */
  seeds: Array<string>
  /**
   * The shortest foreign-key path to it from another seeded table: that table, then each
   * hop as `child.column → parent` (empty when none leads there).
   */
  path: Array<string>
}

/** The parts of a Playwright project pglane reads. */
export interface ProjectLike {
  /** Project name. */
  name?: string
}

/** How a run registers or beats: its name format, heartbeat interval and time-to-live. */
export interface RegisterOptions {
  /** The run's name format (default `PGLANE_NAME_FORMAT`, else `{run}-w{worker}-{test}-{name}`). */
  nameFormat?: string
  /** Seconds between the run's heartbeats (default `PGLANE_HEARTBEAT_SECONDS`, else 20). */
  heartbeatSeconds?: number
  /**
   * Seconds without a heartbeat after which the run is dead (default
   * `PGLANE_HEARTBEAT_TTL`, else 120). Other runs judge it by this (and never before it
   * missed two heartbeats), not by their own setting.
   */
  ttlSeconds?: number
}

/** A foreign key by the name factories accept. */
export interface RelationDescription {
  /** The relation's name (`project` for `project_id`). */
  name: string
  /** The referenced table, `schema.table`. */
  table: string
  /** Referencing columns. */
  columns: Array<string>
  /** Referenced columns. */
  parentColumns: Array<string>
  /** Does inference build a parent when none is given? */
  required: boolean
}

/** A registered run. */
export interface RunInfo {
  /** Run id. */
  runId: string
  /** Host that started it. */
  host: string
  /** Process id of its Playwright runner. */
  pid: number
  /** LIKE pattern of its names (derived from the run id and the name format). */
  lanePattern: string
  /** Its name format (null: registered by an older pglane, the default format). */
  nameFormat?: string
  /** The heartbeat interval it recorded, in seconds. */
  heartbeatSeconds?: number
  /** The time-to-live it recorded, in seconds: others judge it by this, not by their own. */
  ttlSeconds?: number
  /** Seconds since its last heartbeat. */
  idleSeconds: number
}

/** The live schema and the factories of a registry (`describe`). */
export interface SchemaDescription {
  /** Every table of the user schemas. */
  tables: Array<TableDescription>
  /** Every factory of the registry. */
  factories: Array<FactoryDescription>
}

/** A schema file for `applySchemaFiles`. */
export interface SchemaFileInput {
  /** Its name in the record and in messages (the path relative to the config file). */
  name: string
  /** Its SQL. */
  sql: string
  /** When it changed since it was applied: `"error"` (default), `"reapply"` or `"skip"`. */
  onChange?: string
}

/** What `applySchemaFiles` did with one file. */
export interface SchemaFileOutcome {
  /** The file's name. */
  name: string
  /** `"applied"`, `"unchanged"`, `"reapplied"`, `"changed-skipped"` or `"applied-unrecorded"`. */
  status: string
}

/** Whether pglane's own schema (registry, journal, schema-file record) is there for this role. */
export interface SchemaStatus {
  /** Everything can be used. */
  ready: boolean
  /** The role pglane connects as. */
  role: string
  /** The database. */
  database: string
  /** Why it is not ready and the statements an admin can run (absent when ready). */
  missing?: string
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
  /**
   * Whether the server's backend session is encrypted. Behind a pooler this describes the
   * pooler's link to the server.
   */
  ssl: boolean
  /** `current_database()` */
  database: string
  /** `current_user` */
  user: string
}

/** Options of `signInWithPassword`. */
export interface SignInOptions {
  /** The user's email as stored (e.g. `user.email` of a signed-in user). */
  email: string
  /** The user's password (never printed). */
  password: string
  /**
   * Return the session this tracker got earlier for this user while it has more than a
   * minute left (default `true`).
   */
  reuse?: boolean
  /** The Supabase API URL (default `SUPABASE_URL`, else `http://127.0.0.1:54321`). */
  supabaseUrl?: string
  /**
   * The project's anon or publishable key (default `SUPABASE_ANON_KEY`, else
   * `SUPABASE_PUBLISHABLE_KEY`). Never printed.
   */
  apiKey?: string
}

/**
 * Signs a user in through Supabase Auth's password grant (`POST /auth/v1/token`) and tracks
 * the rows it writes (session, refresh token, amr claim, audit entry) with `tracker`. By
 * default a session the same tracker got before for the same user is reused while it has more
 * than a minute left: sign a worker-scoped user in with the worker's tracker and every test of
 * the worker shares one sign-in, which keeps a suite under Supabase Auth's rate limits. A 429
 * rejects with `PGLANE_AUTH_RATE_LIMITED`, any other refusal with `PGLANE_AUTH_API`.
 */
export declare function signInWithPassword(tracker: ResourceTracker, options: SignInOptions): Promise<SupabaseSession>

/** A step or after-step of a factory. */
export interface StepDescription {
  /** Its name in the result. */
  name: string
  /** The factory it calls. */
  factory: string
  /** Made only sometimes (`if:`, or a trait's after-step)? */
  optional: boolean
}

/** A written storage state. */
export interface StorageStateFile {
  /** Where it was written. */
  path: string
  /** The state: `{ cookies, origins }` in Playwright's format. */
  storageState: { cookies: any[]; origins: any[] }
}

/** Options of `writeSupabaseStorageState`. */
export interface StorageStateOptions {
  /** Origin of the app under test (default `PGLANE_APP_ORIGIN`, else `http://localhost:3000`). */
  appOrigin?: string
  /** The Supabase API URL (default `SUPABASE_URL`, else `http://127.0.0.1:54321`). */
  supabaseUrl?: string
  /** Folder of storage state files (default `playwright/.auth`). */
  dir?: string
}

/** A session Supabase Auth issued (`signInWithPassword`). */
export interface SupabaseSession {
  /** The `auth.sessions` id, also the JWT's `session_id`. */
  sessionId: string
  /** The access token Supabase Auth signed. */
  accessToken: string
  /** The refresh token. */
  refreshToken: string
  /** When the access token expires, in seconds since the epoch. */
  expiresAt: number
  /** The token response as supabase-js stores it; `writeSupabaseStorageState` takes it. */
  session: Record<string, any>
  /** The access token's claims. */
  claims: Record<string, any>
  /** Whether this is a session the tracker got before (no request was made). */
  reused: boolean
}

/**
 * The key supabase-js and `@supabase/ssr` keep the session under: `sb-<project ref>-auth-token`
 * for `supabaseUrl` (default `SUPABASE_URL`, else `http://127.0.0.1:54321`).
 */
export declare function supabaseStorageKey(supabaseUrl?: string | undefined | null): string

/** Options of sweeps, plans and leftover checks. */
export interface SweepOptions {
  /** `{ 'schema.table': ['name'] }`; default: every text column of every table. */
  laneColumns?: Record<string, Array<string>>
  /** Sweep even if the database is not marked as a test database. */
  allowUnmarked?: boolean
  /**
   * The run's lane pattern, for a run the registry does not know (a database without the
   * `pglane` schema): its rows are then found by lane names alone. It must be exactly the
   * run's own pattern (derived from the run id and the name format), never free text.
   */
  lanePattern?: string
}

/** A table, as `describe` gives it. */
export interface TableDescription {
  /** `schema.table`. */
  name: string
  /** The name `create` reads back as this table (quoted where needed). */
  qualified: string
  /** Schema. */
  schema: string
  /** Table name. */
  table: string
  /** The partitioned table it is a partition of. */
  partitionOf?: string
  /**
   * The key its rows are tracked by: the primary key, else a unique key whose columns are
   * all `NOT NULL` (empty: neither, so its rows are not tracked by key).
   */
  primaryKey: Array<string>
  /** Columns in order. */
  columns: Array<ColumnDescription>
  /** Foreign keys, named. */
  relations: Array<RelationDescription>
  /** The definition that builds its rows when a call names the table. */
  factory?: string
}

/**
 * The parts of Playwright's `TestInfo` pglane reads. A real `TestInfo` or a plain object.
 * Indexes must be integers from 0 to 2147483647; anything else is `PGLANE_INVALID_ARGUMENT`.
 */
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

/** A tracked row. */
export interface TrackedRow {
  /** `schema.table`. */
  table: string
  /**
   * Primary key values as text, in key column order. Empty for a table without a primary
   * key: the entry stands for the test's rows of that table, which cleanup finds by the
   * lane's name in their text columns.
   */
  key: Array<string>
}

/** Options of `WorkerContext.create`; each falls back to an environment variable. */
export interface WorkerContextOptions {
  /**
   * Run id (default: `PGLANE_RUN_ID`, set by the global setup, or one per process): 8 to 32
   * characters of `0-9` and `a-z`.
   */
  runId?: string
  /**
   * Name format (default `{run}-w{worker}-{test}-{name}`, or `PGLANE_NAME_FORMAT`); it must
   * start with `{run}`.
   */
  nameFormat?: string
  /** Domain of lane emails (default `pglane.test`, or `PGLANE_EMAIL_DOMAIN`). */
  emailDomain?: string
}

/**
 * Writes the Playwright storage state of a session (the `session` of a signed-in user, e.g.
 * from `createWorkerScopedUserForOnboarding`): supabase-js localStorage and `@supabase/ssr`
 * cookies. Throws `PGLANE_INVALID_CONFIG` for an origin or URL that is not a URL.
 */
export declare function writeSupabaseStorageState(session: Record<string, any>, options?: StorageStateOptions | undefined | null): StorageStateFile
