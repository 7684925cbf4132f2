// Tests made for the chaos suite (chaos.test.mjs): each creates rows with factories, waits a
// little (while workers are killed, backends terminated and the server restarted around it),
// creates more, and before it ends proves that every row it created is still there. A row
// another lane's cleanup or a sweep deleted fails the test with CHAOS_ROW_LOST, which the
// driver looks for; an error of the chaos itself (a lost connection) fails it otherwise.
import { test, type Lane } from 'pglane/playwright';

const TESTS = Number(process.env.PGLANE_CHAOS_TESTS) || 64;
const TRANSIENT = new Set(['PGLANE_DB_CONNECTION_LOST', 'PGLANE_DB_UNREACHABLE', 'PGLANE_DB_TIMEOUT']);

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `fn`, tried again while the database is briefly away, so a check is never undone by the chaos. */
async function patiently<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= 20 || !TRANSIENT.has((err as { code?: string }).code ?? '')) throw err;
      await pause(250);
    }
  }
}

const primaryKeys = new Map<string, string[]>();

/** Every row the lane's tracker holds, checked by primary key: missing ones fail the test. */
async function expectOwnRowsExist(lane: Lane<any>): Promise<void> {
  const byTable = new Map<string, string[][]>();
  for (const row of lane.tracker.list()) byTable.set(row.table, [...(byTable.get(row.table) ?? []), row.key]);
  const lost: string[] = [];
  for (const [table, keys] of byTable) {
    let columns = primaryKeys.get(table);
    if (!columns) {
      const rows = await patiently(() =>
        lane.db.query<{ name: string }>(
          `select a.attname as name from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
            where i.indrelid = $1::regclass and i.indisprimary order by array_position(i.indkey::int2[], a.attnum)`,
          [table],
        ),
      );
      columns = rows.map((r) => r.name);
      primaryKeys.set(table, columns);
    }
    const [schema, name] = table.split('.');
    const quote = (id: string) => `"${id.replace(/"/g, '""')}"`;
    const key = `jsonb_build_array(${columns.map((c) => `${quote(c)}::text`).join(', ')})`;
    const found = await patiently(() =>
      lane.db.query<{ k: string[] }>(`select ${key} as k from ${quote(schema)}.${quote(name)} where ${key} in (select jsonb_array_elements($1::jsonb))`, [
        JSON.stringify(keys),
      ]),
    );
    const there = new Set(found.map((r) => JSON.stringify(r.k)));
    for (const k of keys) if (!there.has(JSON.stringify(k))) lost.push(`${table} ${JSON.stringify(k)}`);
  }
  if (lost.length) throw new Error(`CHAOS_ROW_LOST: ${lost.length} row(s) of lane ${lane.ctx.testPattern()} are gone before its test ended: ${lost.join(', ')}`);
}

for (let i = 0; i < TESTS; i++) {
  test(`keeps every row it created (${i})`, async ({ lane }) => {
    await lane.factories.create('completeSetup');
    await pause(200 + Math.random() * 900);
    await lane.factories.createList('organization', 2);
    await lane.factories.create('user');
    await pause(100 + Math.random() * 600);
    await expectOwnRowsExist(lane);
  });
}
