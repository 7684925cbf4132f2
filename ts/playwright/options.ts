/**
 * pglane's Playwright options: one worker-scoped fixture option, `pglane`, set in `use` of the
 * config (or a project, or `test.use` for worker-level choices such as factories). The
 * `lane` and `workerLane` fixtures read it in the workers; the global setup reads the same
 * value from the resolved projects (`config.projects[i].use.pglane`), so there is one place to
 * write it and no side channel.
 *
 * ```ts
 * // with definePglaneConfig(config, options), options land in use.pglane; or by hand:
 * export default defineConfig<{}, PglaneWorkerOptions>({
 *   use: { pglane: { factories: 'e2e/factories.yaml', schemaFiles: ['db/schema.sql'] } },
 * });
 * ```
 */
import type { FullConfig } from '@playwright/test';
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';

/** Factory definitions given as a JS object (the YAML's shape). */
export type FactoryDefinitions = { version?: number; laneColumns?: Record<string, string[]>; factories: Record<string, unknown> };

/** A schema file and what to do when it changed since it was applied. */
export interface SchemaFileOption {
  /** Path, relative to the config file. */
  path: string;
  /**
   * When its content changed since it was applied to this database: `'error'` (default;
   * the database still has the old schema), `'reapply'` (for files written to run twice),
   * `'skip'` (keep the old schema, say so).
   */
  onChange?: 'error' | 'reapply' | 'skip';
}

export interface PglaneOptions {
  /**
   * Your factories: a YAML file, several, or definitions as an object (paths relative to the
   * config file). A factory of one file may use another's. The name `'reference'` includes
   * the preset of pglane's reference app.
   */
  factories?: string | FactoryDefinitions | Array<string | FactoryDefinitions>;
  /** Include a preset's factories: `'reference'` (the reference app's, for `examples/schema.sql`). */
  preset?: 'reference';
  /**
   * SQL files global setup applies, in order, once per database (recorded by content hash in
   * the `pglane` schema; a file that changed later is an error unless `onChange` says
   * otherwise). Paths relative to the config file.
   */
  schemaFiles?: Array<string | SchemaFileOption>;
  /**
   * More `{ 'schema.table': ['column'] }` that hold lane names, for finding what a crashed
   * worker left. Columns your factories fill with `name`, `email` or `slug` are known already.
   */
  laneColumns?: Record<string, string[]>;
  /** Fail the run when its teardown finds rows left behind, instead of sweeping them (`PGLANE_STRICT=1`). */
  strict?: boolean;
  /** A run whose heartbeat is older than this is dead and may be swept (default 120 s, `PGLANE_HEARTBEAT_TTL`). */
  heartbeatTtlSeconds?: number;
  /** Heartbeat interval (default 20 s). */
  heartbeatSeconds?: number;
  /** Sweep dead runs even if the database is not marked as a test database (`PGLANE_ALLOW_SWEEP=1`). */
  allowSweep?: boolean;
  /** Print what setup and teardown do (default true; `PGLANE_QUIET=1` turns it off). */
  verbose?: boolean;
  /**
   * Environment variables that receive the database URL for your web servers and the rest of
   * the run (default `['DATABASE_URL']`); a name a `webServer.env` sets itself is left alone.
   */
  databaseUrlEnv?: string | string[];
  /**
   * Rewrite the TypeScript types of the schema and these factories (what `npx pglane types`
   * writes) in global setup, after the schema files, when they changed: `true` writes
   * `pglane-types.d.ts` beside the config; `{ out }` names the file (relative to the config).
   */
  types?: boolean | { out?: string };
}

/** The worker fixture option that carries pglane's options: `use: { pglane: {...} }`. */
export interface PglaneWorkerOptions {
  pglane: PglaneOptions;
}

/** The directory relative paths in the options are resolved against: the config file's. */
export function baseDir(config: Pick<FullConfig, 'configFile' | 'rootDir'> | undefined): string {
  if (config?.configFile) return dirname(config.configFile);
  return process.cwd();
}

/** The nearest directory at or above `dir` with a package.json (else `dir`). */
function packageRoot(dir: string): string {
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, 'package.json'))) return d;
    if (dirname(d) === d) return dir;
  }
}

/**
 * A path the user gave (relative to `base`, the config file's directory), resolved, and the
 * name it is recorded and reported under: relative to the package root, so it is the same on
 * every machine and two suites' `schema.sql` files stay apart.
 */
export function resolvePath(base: string, path: string): { path: string; name: string } {
  const full = isAbsolute(path) ? path : resolve(base, path);
  const rel = relative(packageRoot(base), full);
  const name = rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel.split(sep).join('/') : full;
  return { path: full, name };
}

export function schemaFileList(files: PglaneOptions['schemaFiles']): SchemaFileOption[] {
  return (files ?? []).map((f) => (typeof f === 'string' ? { path: f } : f));
}

export function databaseUrlEnvNames(options: Pick<PglaneOptions, 'databaseUrlEnv'> | undefined): string[] {
  const names = options?.databaseUrlEnv;
  if (names === undefined) return ['DATABASE_URL'];
  return typeof names === 'string' ? [names] : names;
}

/** What global setup works with: the options of every project, merged. */
export interface ResolvedOptions {
  /** Schema files, resolved, in order; the same file named by two projects once. */
  schemaFiles: (SchemaFileOption & { name: string })[];
  /** Factory options of each project (for the lane columns of teardown's leftover check). */
  factorySets: Pick<PglaneOptions, 'factories' | 'preset'>[];
  laneColumns: Record<string, string[]>;
  strict: boolean;
  heartbeatTtlSeconds: number;
  heartbeatSeconds: number;
  allowSweep: boolean;
  verbose: boolean;
  databaseUrlEnv: string[];
  baseDir: string;
  /** Where global setup rewrites the generated types, if asked to (absolute path). */
  typesOut: string | null;
}

const envFlag = (name: string) => process.env[name] === '1' || process.env[name] === 'true';

/** The options of all projects of `config` (each project's `use.pglane`), merged. */
export function resolveOptions(config?: FullConfig | null): ResolvedOptions {
  const base = baseDir(config ?? undefined);
  const all = (config?.projects ?? [])
    .map((p) => (p.use as Partial<PglaneWorkerOptions> | undefined)?.pglane)
    .filter((o): o is PglaneOptions => Boolean(o));
  const first = <K extends keyof PglaneOptions>(key: K): PglaneOptions[K] | undefined => all.find((o) => o[key] !== undefined)?.[key];
  const schemaFiles: ResolvedOptions['schemaFiles'] = [];
  for (const o of all) {
    for (const f of schemaFileList(o.schemaFiles)) {
      const { path, name } = resolvePath(base, f.path);
      if (!schemaFiles.some((s) => s.path === path)) schemaFiles.push({ ...f, path, name });
    }
  }
  const laneColumns: Record<string, string[]> = {};
  for (const o of all) {
    for (const [table, cols] of Object.entries(o.laneColumns ?? {})) {
      laneColumns[table] = [...new Set([...(laneColumns[table] ?? []), ...cols])];
    }
  }
  return {
    schemaFiles,
    factorySets: all.map((o) => ({ factories: o.factories, preset: o.preset })),
    laneColumns,
    strict: first('strict') ?? envFlag('PGLANE_STRICT'),
    heartbeatTtlSeconds: first('heartbeatTtlSeconds') ?? (Number(process.env.PGLANE_HEARTBEAT_TTL) || 120),
    heartbeatSeconds: first('heartbeatSeconds') ?? 20,
    allowSweep: first('allowSweep') ?? envFlag('PGLANE_ALLOW_SWEEP'),
    verbose: first('verbose') ?? process.env.PGLANE_QUIET !== '1',
    databaseUrlEnv: databaseUrlEnvNames({ databaseUrlEnv: first('databaseUrlEnv') }),
    baseDir: base,
    typesOut: typesOutOf(first('types'), base),
  };
}

/** The file of the `types` option, resolved against the config's directory (`null`: not asked). */
function typesOutOf(types: PglaneOptions['types'], base: string): string | null {
  if (!types) return null;
  return resolvePath(base, (typeof types === 'object' && types.out) || 'pglane-types.d.ts').path;
}
