#!/usr/bin/env node
/**
 * `pglane` command line: look after the shared test database between runs.
 *
 *   pglane runs                     registered runs and their heartbeat age
 *   pglane leftovers <run-id>       rows a run still has, per table
 *   pglane sweep --expired [--ttl S] remove what dead runs left (heartbeat older than S, default 120)
 *   pglane sweep <run-id>           remove what one run left (refuses a live run unless --force)
 *   pglane mark-test-db             allow sweeps on this database
 *   pglane schema-files             schema files applied to this database (name, hash, when)
 *   pglane schema-files forget <name>  forget one, so the next run applies it again
 *   pglane types [--out F] [--factories F]... [--preset] [--check]
 *                                   write TypeScript types of the schema and factories
 *
 * The database comes from DATABASE_URL (or libpq's PG* variables).
 */
import * as native from '../index';
import { generateTypes } from './types';

function fail(message: string): never {
  console.error(`pglane: ${message}`);
  process.exit(2);
}

async function main(argv: string[]) {
  const [command, ...rest] = argv;
  const flag = (name: string) => rest.includes(name);
  const value = (name: string) => {
    const i = rest.indexOf(name);
    return i >= 0 ? rest[i + 1] : undefined;
  };
  const positional = rest.filter((a, i) => !a.startsWith('--') && !(i > 0 && ['--ttl', '--out', '--factories'].includes(rest[i - 1])));
  const registry = new native.RunRegistry(null);
  const needSchema = async () => {
    const status = await registry.ensureSchema();
    if (!status.ready) fail(`this needs the pglane schema: ${status.missing}`);
  };
  switch (command) {
    case 'runs': {
      await needSchema();
      const runs = await registry.runs();
      if (!runs.length) console.log('no registered runs');
      for (const r of runs) console.log(`${r.runId}  ${r.host}  pid ${r.pid}  idle ${Math.round(r.idleSeconds)} s  ${r.lanePattern}`);
      return;
    }
    case 'leftovers': {
      const id = positional[0] ?? fail('usage: pglane leftovers <run-id>');
      const left = await registry.leftovers(id);
      if (!left.length) console.log(`run ${id} has no rows left`);
      for (const l of left) console.log(`${l.table}: ${l.rows}`);
      return;
    }
    case 'sweep': {
      await needSchema();
      const ttl = Number(value('--ttl') ?? 120);
      let ids: string[];
      if (flag('--expired')) ids = (await registry.expired(ttl)).map((r) => r.runId);
      else {
        const id = positional[0] ?? fail('usage: pglane sweep <run-id> | --expired [--ttl seconds]');
        const run = (await registry.runs()).find((r) => r.runId === id) ?? fail(`no run ${id} is registered`);
        if (run.idleSeconds < ttl && !flag('--force')) fail(`run ${id} is alive (heartbeat ${Math.round(run.idleSeconds)} s ago); use --force to sweep it anyway`);
        ids = [id];
      }
      for (const id of ids) {
        const report = await registry.sweep(id, { allowUnmarked: flag('--allow-unmarked') });
        console.log(`swept run ${id}: ${report.totalDeleted} rows${report.failures.length ? `, ${report.failures.length} failure(s)` : ''}`);
      }
      if (!ids.length) console.log('no dead runs');
      return;
    }
    case 'mark-test-db': {
      await registry.markTestDatabase();
      console.log('marked as a test database: pglane may sweep dead runs here');
      return;
    }
    case 'schema-files': {
      await needSchema();
      const db = native.Db.default();
      if (positional[0] === 'forget') {
        const name = positional[1] ?? fail('usage: pglane schema-files forget <name>');
        const n = await db.execute('delete from pglane.schema_files where name = $1', [name]);
        console.log(n ? `forgot ${name}: the next run applies it again` : `no schema file ${name} is recorded`);
        return;
      }
      const files = await db.query<{ name: string; sha256: string; applied_at: string; run_id: string | null }>(
        'select name, sha256, applied_at, run_id from pglane.schema_files order by applied_at, name',
      );
      if (!files.length) console.log('no schema files recorded');
      for (const f of files) console.log(`${f.name}  sha256 ${f.sha256.slice(0, 12)}  applied ${f.applied_at}${f.run_id ? ` by run ${f.run_id}` : ''}`);
      return;
    }
    case 'types': {
      const all = (name: string) => rest.flatMap((a, i) => (rest[i - 1] === name ? [a] : []));
      const check = flag('--check');
      const result = await generateTypes({ out: value('--out'), factories: all('--factories'), preset: flag('--preset'), write: !check });
      if (check) {
        if (result.changed) fail(`${result.out} is out of date (the schema or the factories changed): run \`npx pglane types\``);
        console.log(`${result.out} is up to date`);
        return;
      }
      console.log(`wrote ${result.out} (${result.tables} tables, ${result.factories} factories${result.changed ? '' : ', unchanged'})`);
      return;
    }
    default:
      console.log('usage: pglane <runs | leftovers <run-id> | sweep <run-id> | sweep --expired [--ttl s] | mark-test-db | schema-files [forget <name>] | types [--out file] [--factories file]... [--preset] [--check]>');
      if (command && command !== 'help' && command !== '--help') process.exit(2);
  }
}

main(process.argv.slice(2)).catch((err) => fail(`${err.code ? `${err.code}: ` : ''}${err.message}`));
