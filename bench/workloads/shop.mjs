// Workloads `shopSetup` and `shopCleanup`: a schema the benchmark was not tuned for
// (shop-schema.sql: 11 tables, no ON DELETE CASCADE). A test makes its top rows (an account and
// its store) and tracks them; the app under test then makes 26 rows under the store "through the
// UI" (categories in a tree, products, their categories, variants, customers, addresses, orders,
// order lines, payments), which no tracker knows. Cleanup must find and delete all 28.
//
// (a) pglane: a factory for the store (its account made by an association, one statement), and
//     `new CleanupManager(db, tracker).cleanup()` of the two tracked rows.
// (b) the reference algorithm: one INSERT per row; cleanup is one DELETE per table in a fixed,
//     hand-kept order (children first), each reaching the tracked stores through its foreign
//     keys, then one count per tracked type.
// (c) the fewest statements for this schema: setup in one statement of insert CTEs; cleanup in
//     ONE statement of delete CTEs, each child found through its parent's RETURNING, counting the
//     tracked rows it deleted (a second statement only when one was already gone). Prepared once
//     per connection (a named statement) where pglane prepares too, i.e. on a direct connection;
//     `(c) unnamed` is the same statement sent unnamed, for comparison.
import { readFileSync } from 'node:fs';
import { BestContext, CountingPool, ReferenceContext } from '../common.mjs';
import { pglane } from '../pglane-impl.mjs';
import { expect, interleaved, QUICK, timed, variantLine } from './harness.mjs';

const { WorkerContext, ResourceTracker, CleanupManager, Db, Factories } = pglane;

export const SHOP_SCHEMA_SQL = readFileSync(new URL('shop-schema.sql', import.meta.url), 'utf8');

const ITER = QUICK ? { setup: [3, 10], cleanup: [3, 12] } : { setup: [20, 200], cleanup: [20, 300] };

/** pglane's factories for the shop: a store and the account that owns it. */
const SHOP_FACTORIES = {
  factories: {
    account: { table: 'shop.accounts', fields: { name: { name: 'Account {{seq}}' } } },
    store: {
      table: 'shop.stores',
      associations: { account: { factory: 'account', param: 'accountId' } },
      fields: { name: { name: 'Store {{seq}}' }, slug: { slug: 'store-{{seq}}' } },
    },
  },
};

/**
 * What the app makes under a store through its UI (untimed, the same SQL for all three): 26
 * rows in 9 tables. Resolves with the store's order ids.
 */
async function insertStoreContents(admin, ctx, storeId) {
  const { rows } = await admin.query(
    `with
      c1 as (insert into shop.categories (store_id, name) values ($1, $2) returning id),
      c2 as (insert into shop.categories (store_id, parent_id, name) select $1, id, $3 from c1 returning id),
      p as (insert into shop.products (store_id, title, sku, price_cents)
            select $1, $4 || n, 'SKU-' || n, 1000 * n from generate_series(1, 3) n returning id, sku),
      pc as (insert into shop.product_categories (product_id, category_id)
             select p.id, case when p.sku = 'SKU-1' then c1.id else c2.id end from p, c1, c2),
      v as (insert into shop.variants (product_id, name, stock) select p.id, s, 10 from p, unnest(array['S', 'M']) s returning id),
      cu as (insert into shop.customers (store_id, email, name) select $1, e, $5 from unnest($6::text[]) e returning id),
      ad as (insert into shop.addresses (customer_id, line1, city, country) select id, '1 Main St', 'Berlin', 'DE' from cu returning id, customer_id),
      o as (insert into shop.orders (store_id, customer_id, shipping_address_id, total_cents)
            select $1, customer_id, id, 3000 from ad returning id),
      ol as (insert into shop.order_lines (order_id, variant_id, quantity, price_cents)
             select o.id, v.id, 1, 1500 from o, (select id from v order by id limit 2) v),
      pay as (insert into shop.payments (order_id, amount_cents, provider, reference) select id, 3000, 'stripe', 'ch_' || id from o)
     select array(select id from o) as orders`,
    [storeId, ctx.name('Shoes'), ctx.name('Running shoes'), ctx.name('Trail runner '), ctx.name('Buyer'), [ctx.email('buyer1'), ctx.email('buyer2')]],
  );
  return rows[0].orders;
}

/** Rows of the store (and its account) still present, all 11 tables. */
async function storeRowsLeft(admin, storeId, accountId) {
  const { rows } = await admin.query(
    `select (select count(*) from shop.accounts where id = $2) + (select count(*) from shop.stores where id = $1)
          + (select count(*) from shop.categories where store_id = $1) + (select count(*) from shop.products where store_id = $1)
          + (select count(*) from shop.product_categories pc join shop.categories c on c.id = pc.category_id where c.store_id = $1)
          + (select count(*) from shop.variants v join shop.products p on p.id = v.product_id where p.store_id = $1)
          + (select count(*) from shop.customers where store_id = $1)
          + (select count(*) from shop.addresses a join shop.customers c on c.id = a.customer_id where c.store_id = $1)
          + (select count(*) from shop.orders where store_id = $1)
          + (select count(*) from shop.order_lines l join shop.orders o on o.id = l.order_id where o.store_id = $1)
          + (select count(*) from shop.payments y join shop.orders o on o.id = y.order_id where o.store_id = $1) as n`,
    [storeId, accountId],
  );
  return Number(rows[0].n);
}

// --- (a) pglane ----------------------------------------------------------------------------------

class ShopPglane {
  constructor(url) {
    this.db = Db.connect(url, { poolSize: 2, applicationName: 'pglane-bench-a-shop' });
    this.factories = Factories.fromObject(SHOP_FACTORIES, this.db);
    this.extraStatements = 0;
    this.tests = 0;
  }
  get roundTrips() {
    return this.db.roundTrips;
  }
  get statements() {
    return this.db.roundTrips + this.extraStatements;
  }
  async warm() {
    await this.db.serverInfo();
  }
  close() {
    this.db.close();
  }
  lane(runId) {
    const ctx = WorkerContext.create({ workerIndex: 5, testId: `shop-${this.tests++}` }, { runId });
    return { ctx, tracker: ResourceTracker.forTest({}, ctx, this.db) };
  }
  async setup({ ctx, tracker }) {
    const store = await this.factories.create('store', ctx, tracker);
    return { storeId: store.id, accountId: store.account_id };
  }
  async cleanup({ tracker }) {
    const report = await new CleanupManager(this.db, tracker).cleanup();
    this.extraStatements += report.statements - report.roundTrips;
    return report;
  }
}

// --- (b) and (c) with pg -------------------------------------------------------------------------

class ShopPg {
  constructor(url, key, Context) {
    this.db = new CountingPool(url, { max: 2, applicationName: `pglane-bench-${key}-shop` });
    this.Context = Context;
    this.tests = 0;
  }
  get roundTrips() {
    return this.db.roundTrips;
  }
  get statements() {
    return this.db.roundTrips;
  }
  warm() {
    return this.db.warm();
  }
  close() {
    return this.db.end();
  }
  lane(runId) {
    return { ctx: new this.Context(runId, 5, this.tests++), tracker: { accounts: [], stores: [] } };
  }
}

class ShopReference extends ShopPg {
  constructor(url) {
    super(url, 'b', ReferenceContext);
  }
  /** One INSERT per row. */
  async setup({ ctx, tracker }) {
    const account = (await this.db.query('insert into shop.accounts (name) values ($1) returning *', [ctx.name('Account 1')])).rows[0];
    tracker.accounts.push(account.id);
    const store = (
      await this.db.query('insert into shop.stores (account_id, name, slug) values ($1, $2, $3) returning *', [account.id, ctx.name('Store 1'), ctx.slug('store-1')])
    ).rows[0];
    tracker.stores.push(store.id);
    return { storeId: store.id, accountId: account.id };
  }
  /** One DELETE per table, children first, reaching the tracked stores; then one count per tracked type. */
  async cleanup({ tracker }) {
    const stores = 'select id from shop.stores where id = any($1::int8[]) or account_id = any($2::int8[])';
    const deletes = [
      ['shop.payments', `order_id in (select id from shop.orders where store_id in (${stores}))`],
      ['shop.order_lines', `order_id in (select id from shop.orders where store_id in (${stores}))`],
      ['shop.orders', `store_id in (${stores})`],
      ['shop.addresses', `customer_id in (select id from shop.customers where store_id in (${stores}))`],
      ['shop.customers', `store_id in (${stores})`],
      ['shop.variants', `product_id in (select id from shop.products where store_id in (${stores}))`],
      ['shop.product_categories', `product_id in (select id from shop.products where store_id in (${stores}))
                                   or category_id in (select id from shop.categories where store_id in (${stores}))`],
      ['shop.products', `store_id in (${stores})`],
      ['shop.categories', `store_id in (${stores})`],
      ['shop.stores', `id in (${stores})`],
      ['shop.accounts', 'id = any($1::int8[])'],
    ];
    let total = 0;
    const failures = [];
    for (const [table, where] of deletes) {
      const params = table === 'shop.accounts' ? [tracker.accounts] : [tracker.stores, tracker.accounts];
      try {
        total += (await this.db.query(`delete from ${table} where ${where}`, params)).rowCount;
      } catch (err) {
        failures.push({ table, message: err.message });
      }
    }
    const left =
      Number((await this.db.query('select count(*) as n from shop.stores where id = any($1::int8[])', [tracker.stores])).rows[0].n) +
      Number((await this.db.query('select count(*) as n from shop.accounts where id = any($1::int8[])', [tracker.accounts])).rows[0].n);
    const verified = left === 0 && failures.length === 0;
    return { totalDeleted: total, failures, verified };
  }
}

const BEST_SETUP_SQL = `with a as (insert into shop.accounts (name) values ($1) returning id)
  insert into shop.stores (account_id, name, slug) select id, $2, $3 from a returning id, account_id`;

// $1: tracked stores, $2: tracked accounts.
const BEST_CLEANUP_SQL = `with
  st as (select id from shop.stores where id = any($1::int8[]) or account_id = any($2::int8[])),
  o as (delete from shop.orders where store_id in (select id from st) returning id),
  pay as (delete from shop.payments where order_id in (select id from o) returning 1),
  ol as (delete from shop.order_lines where order_id in (select id from o) returning 1),
  cu as (delete from shop.customers where store_id in (select id from st) returning id),
  ad as (delete from shop.addresses where customer_id in (select id from cu) returning 1),
  pr as (delete from shop.products where store_id in (select id from st) returning id),
  va as (delete from shop.variants where product_id in (select id from pr) returning 1),
  ca as (delete from shop.categories where store_id in (select id from st) returning id),
  pc as (delete from shop.product_categories where product_id in (select id from pr) or category_id in (select id from ca) returning 1),
  s as (delete from shop.stores where id in (select id from st) returning id),
  a as (delete from shop.accounts where id = any($2::int8[]) returning id)
select (select count(*) from s where id = any($1::int8[]))::int as stores, (select count(*) from a)::int as accounts,
       ((select count(*) from o) + (select count(*) from pay) + (select count(*) from ol) + (select count(*) from cu)
        + (select count(*) from ad) + (select count(*) from pr) + (select count(*) from va) + (select count(*) from ca)
        + (select count(*) from pc) + (select count(*) from s) + (select count(*) from a))::int as total`;

const BEST_VERIFY_SQL = `select (select count(*) from shop.stores where id = any($1::int8[]))
  + (select count(*) from shop.accounts where id = any($2::int8[])) as n`;

class ShopBest extends ShopPg {
  constructor(url, { prepared, key = 'c' }) {
    super(url, key, BestContext);
    this.prepared = prepared;
  }
  statement(name, text, values) {
    return this.db.query(this.prepared ? { name: `bench-${name}`, text, values } : { text, values });
  }
  async setup({ ctx, tracker }) {
    const { rows: [row] } = await this.statement('shop-setup', BEST_SETUP_SQL, [ctx.name('Account 1'), ctx.name('Store 1'), ctx.slug('store-1')]);
    tracker.accounts.push(row.account_id);
    tracker.stores.push(row.id);
    return { storeId: row.id, accountId: row.account_id };
  }
  async cleanup({ tracker }) {
    const { rows: [row] } = await this.statement('shop-cleanup', BEST_CLEANUP_SQL, [tracker.stores, tracker.accounts]);
    let verified = row.stores === tracker.stores.length && row.accounts === tracker.accounts.length;
    if (!verified) verified = Number((await this.statement('shop-verify', BEST_VERIFY_SQL, [tracker.stores, tracker.accounts])).rows[0].n) === 0;
    return { totalDeleted: row.total, verified };
  }
}

// --- The workloads -------------------------------------------------------------------------------

/** Whether pglane prepares on `url` (as `pglane_prepare=auto` decides): then (c) does too. */
function pglanePrepares(url) {
  const u = new URL(url);
  const prepare = u.searchParams.get('pglane_prepare') ?? process.env.PGLANE_PREPARE ?? 'auto';
  if (prepare === 'on') return true;
  if (prepare === 'off') return false;
  return (u.searchParams.get('pglane_pooler') ?? process.env.PGLANE_POOLER) === 'none';
}

/** Runs `shopSetup` and/or `shopCleanup` (ids in `wanted`); resolves with their results. */
export async function shopWorkloads(url, admin, wanted) {
  await admin.query(SHOP_SCHEMA_SQL);
  const prepared = pglanePrepares(url);
  const impls = {
    a: new ShopPglane(url),
    b: new ShopReference(url),
    c: new ShopBest(url, { prepared }),
    c0: new ShopBest(url, { prepared: false, key: 'c0' }),
  };
  const keys = prepared ? ['a', 'b', 'c', 'c0'] : ['a', 'b', 'c'];
  const runIds = Object.fromEntries(keys.map((k) => [k, pglane.generateRunId()]));
  const out = [];
  const cNote = prepared
    ? '(c) prepared once per connection, as pglane on this direct connection'
    : '(c) unnamed statements, as pglane on this connection';
  try {
    for (const k of keys) await impls[k].warm();
    if (wanted('shopSetup')) {
      const results = await interleaved({
        keys,
        warmup: ITER.setup[0],
        iterations: ITER.setup[1],
        prepare: async (k) => impls[k].lane(runIds[k]),
        measure: (k, lane) => timed(impls[k], () => impls[k].setup(lane)),
        check: async (k, lane, out) => {
          const { storeId, accountId } = out.value;
          expect(storeId && accountId, `${k}: shop setup made a store and its account`);
          const report = await impls[k].cleanup(lane); // untimed
          expect(report.verified === true, `${k}: shop cleanup after setup verified ${JSON.stringify(report.failures ?? [])}`);
          expect((await storeRowsLeft(admin, storeId, accountId)) === 0, `${k}: shop setup's rows gone`);
        },
      });
      out.push(shopResult('shopSetup', 'shop schema: setup of a store and its account (2 rows)', results, cNote));
    }
    if (wanted('shopCleanup')) {
      const results = await interleaved({
        keys,
        warmup: ITER.cleanup[0],
        iterations: ITER.cleanup[1],
        prepare: async (k) => {
          const lane = impls[k].lane(runIds[k]);
          // The test's top rows through each implementation's own setup (untimed), then the
          // app's rows under the store with the same SQL for all.
          const { storeId, accountId } = await impls[k].setup(lane);
          await insertStoreContents(admin, lane.ctx, storeId);
          return { lane, storeId, accountId };
        },
        measure: (k, { lane }) => timed(impls[k], () => impls[k].cleanup(lane)),
        check: async (k, { storeId, accountId }, out) => {
          expect(out.value.verified === true, `${k}: shop cleanup verified ${JSON.stringify(out.value.failures ?? [])}`);
          const left = await storeRowsLeft(admin, storeId, accountId);
          expect(left === 0, `${k}: shop cleanup left ${left} of the store's 28 rows`);
        },
      });
      out.push(shopResult('shopCleanup', 'shop schema: cleanup of a store with what the app made under it (2 tracked, 28 rows, 11 tables, no cascades)', results, cNote));
    }
  } finally {
    for (const impl of Object.values(impls)) await impl.close();
  }
  return out;
}

function shopResult(id, title, results, note) {
  const { c0, ...abc } = results;
  return {
    id,
    title,
    unit: 'ms',
    note,
    results: abc,
    variants: c0 ? { c0 } : undefined,
    extraLines: c0 ? [variantLine('(c) unnamed', c0, abc.a, 'c0/a')] : [],
  };
}
