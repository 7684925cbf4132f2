#!/usr/bin/env node
/**
 * `pglane` command line: look after the shared test database between runs.
 *
 * Arguments are parsed with `node:util` `parseArgs` (strict: an unknown option or a missing
 * value is an error, exit 2). Every command is one entry of `commands` below: its usage, its
 * options and what it does; `--help` and `--version` work without a database. Commands that
 * delete or write take `--dry-run`, which prints what would happen and changes nothing.
 *
 * The database comes from DATABASE_URL (or libpq's PG* variables).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;
type Values = Record<string, string | boolean | undefined>;
type Native = typeof import('../index');

/** A failure the user caused: printed without a stack, exit 2. */
class UsageError extends Error {}

/** One command: what `pglane help` says, its options, and what it does. */
interface Command {
  /** One line for the command list. */
  summary: string;
  /** `pglane <name> ...` forms. */
  usage: string[];
  /** Its options (`--help` is every command's). */
  options?: Options;
  /** Does it write or delete (then it takes `--dry-run`)? */
  writes?: boolean;
  run(args: { positionals: string[]; values: Values }): Promise<number | void>;
}

const TTL_OPTION: Options = {
  ttl: { type: 'string', short: 't' },
};

/** The native engine, loaded only by commands that need it (so `--help` works without it). */
function native(): Native {
  return require('../index') as Native;
}

function registry() {
  return new (native().RunRegistry)(null);
}

/** The registry, once its schema is there (a role without it is told what an admin can do). */
async function readyRegistry() {
  const reg = registry();
  const status = await reg.ensureSchema();
  if (!status.ready) throw new UsageError(`this needs the pglane schema: ${status.missing}`);
  return reg;
}

const DURATION = /^(\d+(?:\.\d+)?)(s|m|h)?$/;

/**
 * `--ttl`: seconds, or a number with `s`, `m` or `h` (`120`, `90s`, `2m`, `1h`); above 0 and at
 * most a week. `2m` used to become NaN and sweep a live run; `-1`, `abc` and `1e20` are refused.
 */
export function parseDuration(text: string): number {
  const m = DURATION.exec(text.trim());
  const seconds = m ? Number(m[1]) * { s: 1, m: 60, h: 3600 }[(m[2] ?? 's') as 's' | 'm' | 'h'] : NaN;
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 7 * 24 * 3600) {
    throw new UsageError(`--ttl ${JSON.stringify(text)} is not a duration: use seconds or a number with s, m or h (120, 90s, 2m, 1h), above 0 and at most a week`);
  }
  return seconds;
}

function fallbackTtl(values: Values): number {
  return typeof values.ttl === 'string' ? parseDuration(values.ttl) : 120;
}

function runId(positionals: string[], usage: string): string {
  if (positionals.length !== 1) throw new UsageError(`usage: ${usage}`);
  return positionals[0];
}

interface PlannedTable {
  table: string;
  rows: number;
  seeds: string[];
  path: string[];
}

/** One line per table: rows, what seeds it, and the foreign-key path from another seeded table. */
function printPlan(title: string, tables: PlannedTable[]) {
  const total = tables.reduce((n, t) => n + t.rows, 0);
  console.log(`${title}: ${total} row(s) in ${tables.length} table(s)`);
  const width = Math.max(0, ...tables.map((t) => t.table.length));
  for (const t of tables) {
    const how = [
      ...(t.seeds.length ? [`by ${t.seeds.join(' and ')}`] : []),
      ...(t.path.length ? [`from ${t.path[0]} via ${t.path.slice(1).join(', ')}`] : []),
    ];
    console.log(`  ${t.table.padEnd(width)}  ${String(t.rows).padStart(7)}  ${how.join('; ')}`);
  }
}

function describeRun(r: { runId: string; host: string; pid: number; idleSeconds: number; ttlSeconds?: number | null; heartbeatSeconds?: number | null }) {
  const own = r.ttlSeconds != null ? `ttl ${r.ttlSeconds} s, heartbeat every ${r.heartbeatSeconds ?? '?'} s` : 'no ttl recorded';
  return `${r.runId}  ${r.host}  pid ${r.pid}  idle ${Math.round(r.idleSeconds)} s  (${own})`;
}

/**
 * The runs a sweep or plan is about: one named run, or every expired one (each judged by its
 * own ttl; `--ttl` only judges runs that recorded none). A sweep refuses a live run unless
 * `--force`; a plan, which deletes nothing, shows any.
 */
async function targets(positionals: string[], values: Values, usage: string, onlyDead: boolean): Promise<string[]> {
  const reg = await readyRegistry();
  const expired = (await reg.expired(fallbackTtl(values))).map((r) => r.runId);
  if (values.expired) {
    if (positionals.length) throw new UsageError(`usage: ${usage} (a run id or --expired, not both)`);
    return expired;
  }
  const id = runId(positionals, usage);
  const run = (await reg.runs()).find((r) => r.runId === id);
  if (!run) throw new UsageError(`no run ${id} is registered (see \`pglane runs\`)`);
  if (onlyDead && !expired.includes(id) && !values.force) {
    throw new UsageError(`run ${id} is alive (heartbeat ${Math.round(run.idleSeconds)} s ago, its ttl ${run.ttlSeconds ?? fallbackTtl(values)} s); use --force to sweep it anyway`);
  }
  return [id];
}

const commands: Record<string, Command> = {
  runs: {
    summary: 'registered runs, their heartbeat age and their own ttl',
    usage: ['pglane runs'],
    async run() {
      const reg = await readyRegistry();
      const runs = await reg.runs();
      if (!runs.length) console.log('no registered runs');
      for (const r of runs) console.log(describeRun(r));
    },
  },
  leftovers: {
    summary: 'rows a run still has, per table',
    usage: ['pglane leftovers <run-id>'],
    async run({ positionals }) {
      const id = runId(positionals, 'pglane leftovers <run-id>');
      const left = await registry().leftovers(id);
      if (!left.length) console.log(`run ${id} has no rows left`);
      for (const l of left) console.log(`${l.table}: ${l.rows}`);
    },
  },
  plan: {
    summary: 'what a sweep would delete, per table with counts and the foreign-key path (deletes nothing)',
    usage: ['pglane plan <run-id>', 'pglane plan --expired [--ttl 2m]'],
    options: { ...TTL_OPTION, expired: { type: 'boolean' } },
    async run({ positionals, values }) {
      return planRuns(await targets(positionals, values, 'pglane plan <run-id> | --expired [--ttl S]', false));
    },
  },
  sweep: {
    summary: 'delete what dead runs left (refuses a live run unless --force)',
    usage: ['pglane sweep <run-id> [--force] [--allow-unmarked] [--dry-run]', 'pglane sweep --expired [--ttl 2m] [--allow-unmarked] [--dry-run]'],
    options: { ...TTL_OPTION, expired: { type: 'boolean' }, force: { type: 'boolean' }, 'allow-unmarked': { type: 'boolean' } },
    writes: true,
    async run({ positionals, values }) {
      const ids = await targets(positionals, values, 'pglane sweep <run-id> | --expired [--ttl S]', true);
      if (values['dry-run']) return planRuns(ids, '(dry run) ');
      if (!ids.length) console.log('no dead runs');
      const reg = registry();
      let failed = 0;
      for (const id of ids) {
        const report = await reg.sweep(id, { allowUnmarked: Boolean(values['allow-unmarked']) });
        failed += report.failures.length;
        console.log(`swept run ${id}: ${report.totalDeleted} rows${report.failures.length ? `, ${report.failures.length} failure(s)` : ''}`);
        for (const f of report.failures) console.log(`  ${f.tables.join(', ')}: ${f.code} ${f.message}`);
      }
      return failed ? 1 : 0;
    },
  },
  'mark-test-db': {
    summary: 'mark this database as a test database (sweeps and pattern cleanups may run here)',
    usage: ['pglane mark-test-db [--dry-run]'],
    writes: true,
    async run({ values }) {
      const reg = registry();
      if (values['dry-run']) {
        console.log(`(dry run) would mark ${native().Db.default().describe()} as a test database (it is ${(await reg.isTestDatabase()) ? 'already' : 'not yet'} marked)`);
        return;
      }
      await reg.markTestDatabase();
      console.log('marked as a test database: pglane may sweep dead runs here');
    },
  },
  'schema-files': {
    summary: 'schema files applied to this database (name, hash, when); forget one so the next run applies it again',
    usage: ['pglane schema-files', 'pglane schema-files forget <name> [--dry-run]'],
    writes: true,
    async run({ positionals, values }) {
      await readyRegistry();
      const db = native().Db.default();
      if (positionals[0] === 'forget') {
        if (positionals.length !== 2) throw new UsageError('usage: pglane schema-files forget <name>');
        const name = positionals[1];
        if (values['dry-run']) {
          const [{ n }] = await db.query<{ n: number }>('select count(*)::int as n from pglane.schema_files where name = $1', [name]);
          console.log(`(dry run) would forget ${n ? name : `nothing: no schema file ${name} is recorded`}`);
          return;
        }
        const n = await db.execute('delete from pglane.schema_files where name = $1', [name]);
        console.log(n ? `forgot ${name}: the next run applies it again` : `no schema file ${name} is recorded`);
        return;
      }
      if (positionals.length) throw new UsageError('usage: pglane schema-files [forget <name>]');
      const files = await db.query<{ name: string; sha256: string; applied_at: string; run_id: string | null }>(
        'select name, sha256, applied_at, run_id from pglane.schema_files order by applied_at, name',
      );
      if (!files.length) console.log('no schema files recorded');
      for (const f of files) console.log(`${f.name}  sha256 ${f.sha256.slice(0, 12)}  applied ${f.applied_at}${f.run_id ? ` by run ${f.run_id}` : ''}`);
    },
  },
  types: {
    summary: 'write TypeScript types of the schema and your factories (--check: fail when out of date)',
    usage: ['pglane types [--out file] [--factories file]... [--preset] [--check]'],
    options: { out: { type: 'string' }, factories: { type: 'string', multiple: true }, preset: { type: 'boolean' }, check: { type: 'boolean' } },
    async run({ positionals, values }) {
      if (positionals.length) throw new UsageError('usage: pglane types [--out file] [--factories file]... [--preset] [--check]');
      const { generateTypes } = require('./types') as typeof import('./types');
      const check = Boolean(values.check);
      const factories = (values.factories as unknown as string[] | undefined) ?? [];
      const result = await generateTypes({ out: values.out as string | undefined, factories, preset: Boolean(values.preset), write: !check });
      if (check) {
        if (result.changed) throw new UsageError(`${result.out} is out of date (the schema or the factories changed): run \`npx pglane types\``);
        console.log(`${result.out} is up to date`);
        return 0;
      }
      console.log(`wrote ${result.out} (${result.tables} tables, ${result.factories} factories${result.changed ? '' : ', unchanged'})`);
      return 0;
    },
  },
  doctor: {
    summary: 'check the connection, TLS, pooler, permissions, schema and lane columns (reads only)',
    usage: ['pglane doctor'],
    async run() {
      return doctor();
    },
  },
};

async function planRuns(ids: string[], prefix = ''): Promise<number> {
  if (!ids.length) {
    console.log(`${prefix}no dead runs`);
    return 0;
  }
  const reg = registry();
  const runs = await reg.runs();
  for (const id of ids) {
    const run = runs.find((r) => r.runId === id);
    printPlan(`${prefix}sweep of run ${run ? describeRun(run) : id} would delete`, await reg.plan(id));
  }
  return 0;
}

async function doctor(): Promise<number> {
  const db = native().Db.default();
  const d = await db.doctor();
  const ok = (good: boolean) => (good ? 'ok  ' : 'WARN');
  let warnings = 0;
  const line = (good: boolean, text: string) => {
    if (!good) warnings++;
    console.log(`${ok(good)} ${text}`);
  };
  line(true, `connected to ${db.describe()}: PostgreSQL ${d.server.serverVersion} as ${d.server.user}`);
  line(d.server.ssl || ['disable', 'prefer'].includes(d.sslmode), `TLS: ${d.server.ssl ? 'encrypted' : 'not encrypted'} (sslmode=${d.sslmode})`);
  console.log(`     pooler: ${d.transactionPooler ? 'transaction-mode pooler in front (session locks are refused; withLock uses transaction locks)' : 'none detected'}`);
  line(d.permissions.pglaneSchema ? d.permissions.pglaneUsage : d.permissions.createSchema,
    d.permissions.pglaneSchema
      ? `pglane schema: present${d.permissions.pglaneUsage ? '' : ', but this role may not use it'}`
      : `pglane schema: absent; ${d.permissions.createSchema ? 'this role may create it (the first run does)' : 'this role may not create it: ask an admin to create schema pglane and grant it'}`);
  line(d.permissions.noDelete.length === 0, d.permissions.noDelete.length ? `no DELETE privilege on ${d.permissions.noDelete.length} table(s): ${d.permissions.noDelete.join(', ')}` : 'DELETE allowed on every table');
  console.log(`     test database: ${d.testDatabase ? 'marked (sweeps allowed)' : 'not marked (run `pglane mark-test-db` to allow sweeps)'}`);
  const g = d.graph;
  console.log(`     schema: ${g.tables} table(s) in ${g.schemas.join(', ') || 'no schema'}, ${g.foreignKeys} foreign key(s), ${g.cycles.length} cycle(s)`);
  for (const c of g.cycles) console.log(`       cycle: ${c.join(', ')}`);
  if (g.withoutPrimaryKey.length) console.log(`       without a primary key (not trackable by key): ${g.withoutPrimaryKey.join(', ')}`);
  line(d.unindexedForeignKeys.length === 0, d.unindexedForeignKeys.length ? `${d.unindexedForeignKeys.length} foreign key(s) without an index on the referencing columns (each cleanup of a parent scans the child):` : 'every foreign key has an index on its referencing columns');
  for (const fk of d.unindexedForeignKeys) console.log(`       ${fk}`);
  const lane = Object.entries(d.laneColumns).sort(([a], [b]) => a.localeCompare(b));
  console.log(`     lane columns: ${lane.reduce((n, [, c]) => n + c.length, 0)} text column(s) in ${lane.length} table(s)`);
  for (const [table, cols] of lane) console.log(`       ${table}: ${cols.join(', ')}`);
  db.close();
  console.log(warnings ? `${warnings} warning(s)` : 'no warnings');
  return 0;
}

function version(): string {
  const pkg = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

function help(name?: string): string {
  const cmd = name ? commands[name] : undefined;
  if (cmd) {
    const opts = Object.entries({ ...cmd.options, ...(cmd.writes ? { 'dry-run': { type: 'boolean' } } : {}) })
      .map(([o, spec]) => `--${o}${spec.type === 'string' ? ' <value>' : ''}`);
    return [`pglane ${name}: ${cmd.summary}`, '', ...cmd.usage.map((u) => `  ${u}`), ...(opts.length ? ['', `options: ${opts.join(' ')}`] : [])].join('\n');
  }
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  return [
    'usage: pglane <command> [options]',
    '',
    ...Object.entries(commands).map(([c, spec]) => `  ${c.padEnd(width)}  ${spec.summary}`),
    '',
    'pglane help <command> (or pglane <command> --help) for its options; pglane --version.',
    'Commands that write take --dry-run. The database comes from DATABASE_URL or libpq\'s PG* variables.',
  ].join('\n');
}

/** Runs the command line; resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h') {
    console.log(help());
    return first === undefined ? 2 : 0;
  }
  if (first === '--version' || first === '-v') {
    console.log(version());
    return 0;
  }
  if (first === 'help') {
    if (rest[0] && !commands[rest[0]]) throw new UsageError(`unknown command ${JSON.stringify(rest[0])}\n\n${help()}`);
    console.log(help(rest[0]));
    return 0;
  }
  const cmd = commands[first];
  if (!cmd) throw new UsageError(`unknown command ${JSON.stringify(first)}\n\n${help()}`);
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      options: { ...cmd.options, help: { type: 'boolean', short: 'h' }, ...(cmd.writes ? { 'dry-run': { type: 'boolean' } } : {}) },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n\n${help(first)}`);
  }
  if (parsed.values.help) {
    console.log(help(first));
    return 0;
  }
  return (await cmd.run({ positionals: parsed.positionals, values: parsed.values as Values })) ?? 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: Error & { code?: string }) => {
      console.error(`pglane: ${err instanceof UsageError ? '' : err.code ? `${err.code}: ` : ''}${err.message}`);
      process.exit(err instanceof UsageError ? 2 : 1);
    },
  );
}
