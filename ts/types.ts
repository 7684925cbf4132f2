/**
 * Generated types: `npx pglane types` reads the live schema and your factory files and writes a
 * declaration file, so that factory calls are checked by TypeScript:
 *
 * ```ts
 * await lane.factories.create('public.tasks', { title: 1 });          // error: title is a string
 * await lane.factories.create('task', {}, { traits: ['finishd'] });   // error: no such trait
 * const task = await lane.factories.create('public.tasks');           // typed row, parents included
 * ```
 *
 * The generated file declares `Tables` (a `Row` and an `Insert` type per table) and `Factories`
 * (per factory and table name: `attrs`, `traits`, `connect`, `result`: a factory-types map, see
 * `factory-types.ts`), and augments `PglaneFactories` with it, so that `lane.factories` and
 * `workerLane.factories` are typed without casts. Postgres types map to what pglane returns:
 *
 * | Postgres | TypeScript (row) | insert also takes |
 * | --- | --- | --- |
 * | `int2`, `int4`, `int8`, `oid`, `float4`, `float8`, `numeric` | `number` (what Postgres' `to_json` gives, as `lane.db.query` returns) | `string` for `int8`, `numeric` (exact values) |
 * | `money` | `string` | `number` |
 * | `bool` | `boolean` | |
 * | `json`, `jsonb`, composite types | `Json` | |
 * | enums | the union of their labels | |
 * | `text`, `varchar`, `char`, `citext`, `uuid`, `bytea` (`\x...`), dates and times (ISO strings), `interval`, network addresses, ranges, ... | `string` | |
 * | arrays | `T[]` | |
 * | domains | their base type | |
 * | types of extensions pglane does not know | `unknown` | |
 * | nullable columns | `T \| null` | |
 *
 * Insert types make every column optional (inference fills what is missing) and leave out
 * generated and identity `ALWAYS` columns.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import * as native from '../index';
import type { FactoryAttrs, FactoryCallOptions, FactoryName, FactoryResult, RegisteredFactories } from './factory-types';
import { factorySources } from './playwright/factories';

// ---- A registry typed by a map -----------------------------------------------------------

/** A `Factories` registry typed by a factory-types map (by default the registered one). */
export interface TypedFactories<F = RegisteredFactories> {
  create<N extends FactoryName<F>>(
    name: N,
    ctx: native.WorkerContext,
    tracker: native.ResourceTracker,
    attrs?: FactoryAttrs<F, N> | null,
    options?: FactoryCallOptions<F, N> | null,
  ): Promise<FactoryResult<F, N>>;
  createList<N extends FactoryName<F>>(
    name: N,
    count: number,
    ctx: native.WorkerContext,
    tracker: native.ResourceTracker,
    attrs?: FactoryAttrs<F, N> | null,
    options?: FactoryCallOptions<F, N> | null,
  ): Promise<FactoryResult<F, N>[]>;
  build<N extends FactoryName<F>>(
    name: N,
    ctx: native.WorkerContext,
    attrs?: FactoryAttrs<F, N> | null,
    options?: FactoryCallOptions<F, N> | null,
  ): Partial<FactoryResult<F, N>>;
  names(): string[];
}

/** The same registry, typed by `F` (no runtime change): for code outside the fixtures. */
export function typedFactories<F = RegisteredFactories>(factories: native.Factories): TypedFactories<F> {
  return factories as unknown as TypedFactories<F>;
}

// ---- The generator ------------------------------------------------------------------------

/** Options of {@link generateTypes}. */
export interface TypesOptions {
  /** The file to write (default `pglane-types.d.ts` in the working directory). */
  out?: string;
  /** Factory files (YAML, or JSON / JS modules exporting the definitions object), one registry: a factory of one file may use another's. */
  factories?: string[];
  /** A registry to describe instead of files (global setup gives the run's). */
  registry?: native.Factories;
  /** Include the reference preset's factories (default false, as in the `pglane` option). */
  preset?: boolean;
  /** The database (default: the process's, from `DATABASE_URL` or `PG*`). */
  db?: native.Db | null;
  /** The module the generated file registers its types with (default `pglane`). */
  module?: string;
  /** Write only when the schema or the factories changed (the hash in the file differs). */
  onlyIfChanged?: boolean;
  /** Write the file at all (default true; false: only say whether it is up to date). */
  write?: boolean;
}

/** What {@link generateTypes} did. */
export interface TypesResult {
  /** The file (absolute path). */
  out: string;
  /** The declarations. */
  text: string;
  /** SHA-256 of the schema and factories the declarations describe. */
  hash: string;
  /** Did the file differ from what the schema and factories give now (or not exist)? */
  changed: boolean;
  /** Was the file written? */
  written: boolean;
  /** Tables and factories described. */
  tables: number;
  factories: number;
}

const HASH_LINE = '// pglane-types-hash: ';

/** The hash recorded in a generated file, if it is one. */
export function recordedHash(file: string): string | null {
  if (!existsSync(file)) return null;
  const line = readFileSync(file, 'utf8').split('\n').find((l) => l.startsWith(HASH_LINE));
  return line ? line.slice(HASH_LINE.length).trim() : null;
}

/** One registry of the factory files (and the preset when asked). */
function loadRegistry(files: string[], preset: boolean, db: native.Db): native.Factories {
  const yamlOrObjects = files.map((file) => {
    const path = resolve(file);
    const ext = extname(path).toLowerCase();
    if (ext === '.yaml' || ext === '.yml') return file;
    if (ext === '.json') return JSON.parse(readFileSync(path, 'utf8'));
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const mod = require(path);
    return mod?.default ?? mod;
  });
  const sources = factorySources({ factories: yamlOrObjects, preset: preset ? 'reference' : undefined }, process.cwd());
  return native.Factories.fromSources(sources, db);
}

/** Reads the schema and the factories and writes the declaration file. */
export async function generateTypes(options: TypesOptions = {}): Promise<TypesResult> {
  const out = resolve(options.out ?? 'pglane-types.d.ts');
  const db = options.db ?? native.Db.default();
  const registry = options.registry ?? loadRegistry(options.factories ?? [], options.preset ?? false, db);
  const { tables, factories } = await registry.describe(db);
  const hash = createHash('sha256')
    .update(JSON.stringify({ v: 2, module: options.module ?? 'pglane', tables, factories }))
    .digest('hex');
  const text = renderTypes(tables, factories, { hash, module: options.module ?? 'pglane' });
  const changed = recordedHash(out) !== hash;
  const written = options.write !== false && (changed || !options.onlyIfChanged);
  if (written) writeFileSync(out, text);
  return { out, text, hash, changed, written, tables: tables.length, factories: factories.length };
}

const q = (s: string) => JSON.stringify(s);

function comment(lines: string[], indent: string): string {
  const text = lines.filter(Boolean).join(' ').replace(/\*\//g, '*\\/');
  return text ? `${indent}/** ${text} */\n` : '';
}

function scalar(c: native.ColumnDescription, insert: boolean): string {
  let t: string;
  switch (c.kind) {
    case 'number':
      t = 'number';
      break;
    case 'boolean':
      t = 'boolean';
      break;
    case 'json':
      t = 'Json';
      break;
    case 'enum':
      t = c.labels.length ? c.labels.map(q).join(' | ') : 'never';
      break;
    case 'unknown':
      t = 'unknown';
      break;
    default:
      t = 'string';
  }
  if (insert && c.insertAlso) t = `${t} | ${c.insertAlso}`;
  for (let i = 0; i < c.array; i++) t = `(${t})[]`;
  return t;
}

/** The names a call may use for a table: its qualified name, and the bare one when it means it. */
function tableKeys(t: native.TableDescription, all: native.TableDescription[]): string[] {
  const keys = [t.qualified];
  if (t.name !== t.qualified && !t.schema.includes('.') && !t.table.includes('.')) keys.push(t.name);
  const bare = t.table;
  const publicOne = all.find((x) => x.schema === 'public' && x.table === bare);
  const means = publicOne ? publicOne === t : all.filter((x) => x.table === bare).length === 1;
  if (means && !bare.includes('.') && !keys.includes(bare)) keys.push(bare);
  return keys;
}

/** The declarations for the described tables and factories. */
export function renderTypes(
  tables: native.TableDescription[],
  factories: native.FactoryDescription[],
  { hash, module }: { hash: string; module: string },
): string {
  const byName = new Map(tables.map((t) => [t.name, t]));
  const factoryNames = new Set(factories.map((f) => f.name));
  const lines: string[] = [];
  const push = (s = '') => lines.push(s);
  push('// Generated by `npx pglane types` from the live schema and the factory definitions. Do not edit:');
  push('// run it again after a migration (or let global setup do it: `types` in definePglaneConfig).');
  push(`${HASH_LINE}${hash}`);
  push('/* eslint-disable */');
  push();
  push('/** A JSON value, as `json` and `jsonb` columns hold. */');
  push('export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };');
  push();
  push('/** Every table: its row as pglane returns it, what an insert takes, its relations (foreign keys by name). */');
  push('export interface Tables {');
  for (const t of tables) {
    push(comment([`\`${t.name}\``, t.partitionOf ? `(a partition of \`${t.partitionOf}\`)` : ''], '  ').trimEnd());
    push(`  ${q(t.name)}: {`);
    push('    Row: {');
    for (const c of t.columns) {
      push(comment([`\`${c.pgType}\`${c.nullable ? '' : ' not null'}${c.hasDefault ? ', has a default' : ''}`], '      ').trimEnd());
      push(`      ${q(c.name)}: ${scalar(c, false)}${c.nullable ? ' | null' : ''};`);
    }
    push('    };');
    push('    Insert: {');
    for (const c of t.columns) {
      if (!c.insertable) continue;
      push(`      ${q(c.name)}?: ${scalar(c, true)}${c.nullable ? ' | null' : ''};`);
    }
    push('    };');
    push('    Relations: {');
    for (const r of t.relations) {
      push(`      ${q(r.name)}: { table: ${q(r.table)}; columns: [${r.columns.map(q).join(', ')}]; references: [${r.parentColumns.map(q).join(', ')}]; required: ${r.required} };`);
    }
    push('    };');
    push('  };');
  }
  push('}');
  push();

  const relationValue = (r: native.RelationDescription) => {
    const parent = byName.get(r.table);
    if (!parent) return 'Record<string, unknown> | string | number';
    const key =
      r.parentColumns.length === 1
        ? `Tables[${q(parent.name)}]['Row'][${q(r.parentColumns[0])}]`
        : `[${r.parentColumns.map((c) => `Tables[${q(parent.name)}]['Row'][${q(c)}]`).join(', ')}]`;
    return `Tables[${q(parent.name)}]['Insert'] | ${key}`;
  };
  const isColumn = (t: native.TableDescription, n: string) => t.columns.some((c) => c.name === n);
  const relationsOf = (t: native.TableDescription, exclude: Set<string> = new Set()) =>
    t.relations.filter((r) => !isColumn(t, r.name) && !exclude.has(r.name));
  const relationAttrs = (t: native.TableDescription, exclude?: Set<string>) =>
    relationsOf(t, exclude)
      .map((r) => `${q(r.name)}?: ${relationValue(r)}`)
      .join('; ');
  const parentResults = (t: native.TableDescription, exclude?: Set<string>) =>
    relationsOf(t, exclude)
      .filter((r) => byName.has(r.table))
      .map((r) => `${q(r.name)}?: Factories[${q(byName.get(r.table)!.qualified)}]['result']`)
      .join('; ');
  const obj = (body: string) => (body ? `{ ${body} }` : '{}');

  push('/** Every name `create` takes, tables (inferred, or built by their definition) and factories: a factory-types map. */');
  push('export interface Factories {');
  const tableEntries = new Map<string, string>();
  for (const t of tables) {
    const entry = t.factory && factoryNames.has(t.factory)
      ? `Factories[${q(t.factory)}]`
      : `{\n    attrs: Tables[${q(t.name)}]['Insert'] & ${obj(relationAttrs(t))};\n    traits: never;\n    connect: ${obj(relationAttrs(t))};\n    result: Tables[${q(t.name)}]['Row'] & ${obj(parentResults(t))};\n  }`;
    for (const key of tableKeys(t, tables)) {
      if (factoryNames.has(key) || tableEntries.has(key)) continue;
      tableEntries.set(key, key === t.qualified ? entry : `Factories[${q(t.qualified)}]`);
    }
  }
  for (const [key, entry] of tableEntries) {
    push(`  ${q(key)}: ${entry};`);
  }
  for (const f of factories) {
    const ref = (name: string, k: 'attrs' | 'traits' | 'result') =>
      factoryNames.has(name) || tableEntries.has(name) ? `Factories[${q(name)}][${q(k)}]` : k === 'traits' ? 'string' : 'Record<string, any>';
    const params = f.params.map((p) => `${q(p)}?: Json`).join('; ');
    const traits = f.traits.length ? f.traits.map(q).join(' | ') : 'never';
    push(comment([`Factory \`${f.name}\`${f.table ? ` of \`${f.table}\`` : ' (steps)'}.`], '  ').trimEnd());
    if (f.table) {
      const t = byName.get(f.table);
      const assocNames = new Set(f.associations.map((a) => a.name));
      const assocAttrs = f.associations
        .flatMap((a) => [`${q(a.name)}?: Record<string, unknown> | string | number`, ...(a.param ? [`${q(a.param)}?: string | number`] : [])])
        .join('; ');
      const extras = [
        ...f.associations.map((a) => `${q(a.name)}?: ${ref(a.factory, 'result')}`),
        ...f.after.map((s) => `${q(s.name)}${s.optional ? '?' : ''}: ${ref(s.factory, 'result')}`),
      ].join('; ');
      const insert = t ? `Tables[${q(t.name)}]['Insert']` : 'Record<string, unknown>';
      const row = t ? `Tables[${q(t.name)}]['Row']` : 'Record<string, any>';
      const rels = t ? relationAttrs(t, assocNames) : '';
      push(`  ${q(f.name)}: {`);
      push(`    attrs: ${insert} & ${obj([params, assocAttrs, rels].filter(Boolean).join('; '))};`);
      push(`    traits: ${traits};`);
      push(`    connect: ${obj(rels)};`);
      push(`    result: ${row} & ${obj([extras, t ? parentResults(t, assocNames) : ''].filter(Boolean).join('; '))};`);
      push('  };');
    } else {
      const stepAttrs = f.steps
        .map((s) => `${q(s.name)}?: ${ref(s.factory, 'attrs')} & { traits?: readonly ${ref(s.factory, 'traits')}[] }`)
        .join('; ');
      const result = f.steps.map((s) => `${q(s.name)}${s.optional ? '?' : ''}: ${ref(s.factory, 'result')}`).join('; ');
      push(`  ${q(f.name)}: {`);
      push(`    attrs: ${obj([params, stepAttrs].filter(Boolean).join('; '))};`);
      push(`    traits: ${traits};`);
      push('    connect: {};');
      push(`    result: ${obj(result)};`);
      push('  };');
    }
  }
  push('}');
  push();

  push('/** A table\'s row. */');
  push('export type Row<T extends keyof Tables> = Tables[T][\'Row\'];');
  push('/** What an insert into a table takes. */');
  push('export type Insert<T extends keyof Tables> = Tables[T][\'Insert\'];');
  push('/** What `create(name)` resolves to. */');
  push('export type Result<N extends keyof Factories> = Factories[N][\'result\'];');
  push();
  push('// `lane.factories` and `workerLane.factories` are typed by `Factories` (see factory-types.ts).');
  push(`declare module ${q(module)} {`);
  push('  interface PglaneFactories extends Factories {}');
  push('}');
  push();
  return lines.join('\n');
}
