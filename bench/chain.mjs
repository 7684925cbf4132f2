// The `chain` workload: a row five levels down a chain of required parents (l5 -> l4 -> l3 ->
// l2 -> l1), created
//   (a) by inference: `Factories.fromSchema(db).create('bench_chain.l5')`, no definition at all;
//   (b) through YAML factories: one definition per level, each with an association to the one
//       above (what pglane users wrote before inference);
//   (c) with hand-written `pg` inserts: a transaction of five `insert ... returning id`, as a
//       test helper would do it (7 round trips).
// Each level has a lane-named text column, a CHECK-constrained text and integer, a default and
// a database-generated key, so inference has its usual work to do.
import { createRequire } from 'node:module';
import { CountingPool } from './common.mjs';

const require = createRequire(import.meta.url);
const pglane = require('pglane');
const { Db, Factories, WorkerContext, ResourceTracker, CleanupManager } = pglane;

export const LEVELS = 5;

function level(n) {
  const parent = n > 1 ? `l${n - 1}_id bigint not null references bench_chain.l${n - 1}(id) on delete cascade,` : '';
  return `create table if not exists bench_chain.l${n} (
    id bigserial primary key, ${parent}
    name text not null, kind text not null check (kind in ('a', 'b')), position int not null check (position >= 0),
    created_at timestamptz not null default now());`;
}

/** The chain's schema (idempotent). */
export const CHAIN_SCHEMA = `create schema if not exists bench_chain;\n${Array.from({ length: LEVELS }, (_, i) => level(i + 1)).join('\n')}`;

/** The YAML definitions of (b): one factory per level, each with its parent as an association. */
export const CHAIN_YAML = `factories:\n${Array.from({ length: LEVELS }, (_, i) => {
  const n = i + 1;
  const assoc = n > 1 ? `    associations: { l${n - 1}: { factory: l${n - 1} } }\n` : '';
  return `  l${n}:\n    table: bench_chain.l${n}\n${assoc}    fields: { name: { name: "L${n} {{seq}}" }, kind: a, position: 0 }\n`;
}).join('')}`;

/** (a) and (b): pglane, the same calls; only the registry differs. */
export class PglaneChain {
  constructor(url, key, registry, { applicationName } = {}) {
    this.db = Db.connect(url, { poolSize: 2, applicationName });
    this.key = key;
    this.factories = registry(this.db);
    this.tests = 0;
  }
  get roundTrips() {
    return this.db.roundTrips;
  }
  get statements() {
    return this.db.roundTrips;
  }
  async warm() {
    await this.db.serverInfo();
    // The first call reads the catalog and the column facts: not measured.
    const lane = this.lane(pglane.generateRunId());
    await this.create(lane);
    await this.clean(lane);
  }
  lane(runId) {
    const ctx = WorkerContext.create({ workerIndex: 1, testId: `chain-${this.key}-${this.tests++}` }, { runId });
    return { ctx, tracker: ResourceTracker.forTest({}, ctx, this.db) };
  }
  create({ ctx, tracker }) {
    return this.factories.create(this.key === 'a' ? 'bench_chain.l5' : 'l5', ctx, tracker);
  }
  async clean({ tracker }) {
    return new CleanupManager(this.db, tracker).cleanup();
  }
  close() {
    this.db.close();
  }
}

/** (c): `pg`, five inserts in a transaction. */
export class PgChain {
  constructor(url, { applicationName = 'pglane-bench-chain-c' } = {}) {
    this.pool = new CountingPool(url, { max: 2, applicationName });
    this.key = 'c';
    this.tests = 0;
  }
  get roundTrips() {
    return this.pool.roundTrips + (this.extra ?? 0);
  }
  get statements() {
    return this.roundTrips;
  }
  async warm() {
    await this.pool.warm();
  }
  lane(runId) {
    return { prefix: `${runId}-w1-${this.tests++}-` };
  }
  async create({ prefix }) {
    const client = await this.pool.pool.connect();
    const q = (text, values) => {
      this.extra = (this.extra ?? 0) + 1;
      return client.query(text, values);
    };
    try {
      await q('begin');
      let parent = null;
      let row;
      for (let n = 1; n <= LEVELS; n++) {
        const cols = n > 1 ? `l${n - 1}_id, name, kind, position` : 'name, kind, position';
        const vals = n > 1 ? '$1, $2, $3, $4' : '$1, $2, $3';
        const values = n > 1 ? [parent, `${prefix}L${n} 1`, 'a', 0] : [`${prefix}L${n} 1`, 'a', 0];
        ({ rows: [row] } = await q(`insert into bench_chain.l${n} (${cols}) values (${vals}) returning *`, values));
        parent = row.id;
        if (n === 1) this.root = row.id;
      }
      await q('commit');
      return { row, root: this.root };
    } catch (err) {
      await client.query('rollback').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }
  async clean(lane, created) {
    await this.pool.pool.query('delete from bench_chain.l1 where id = $1', [created.root]);
  }
  close() {
    return this.pool.end();
  }
}

/** The three implementations. */
export function chainImpls(url) {
  return {
    a: new PglaneChain(url, 'a', (db) => Factories.fromSchema(db), { applicationName: 'pglane-bench-chain-a' }),
    b: new PglaneChain(url, 'b', (db) => Factories.fromYaml(CHAIN_YAML, db), { applicationName: 'pglane-bench-chain-b' }),
    c: new PgChain(url),
  };
}
