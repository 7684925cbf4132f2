// A separate process for the lock tests. Modes:
//   count <locked|unlocked> <iterations> <counter id>: read-then-write a counter row
//   hold <key>: take the lock, print "ready", and wait to be killed
import pg from 'pg';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { DbLocks } = require('pglane');
const [mode, ...args] = process.argv.slice(2);
const url = process.env.DATABASE_URL || process.env.PGLANE_DATABASE_URL;

if (mode === 'hold') {
  const locks = new DbLocks(null);
  await locks.lock(args[0]);
  console.log('ready');
  setInterval(() => {}, 1 << 30);
} else if (mode === 'count') {
  const [how, iterations, id] = args;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const locks = new DbLocks(null, { timeoutMs: 60_000 });
  const step = async () => {
    const { rows } = await client.query('select n from pglane_lock_counter where id = $1', [Number(id)]);
    await new Promise((r) => setTimeout(r, 1)); // widen the race window
    await client.query('update pglane_lock_counter set n = $2 where id = $1', [Number(id), rows[0].n + 1]);
  };
  for (let i = 0; i < Number(iterations); i++) {
    if (how === 'locked') await locks.withLock(`counter:${id}`, step);
    else await step();
  }
  await client.end();
  console.log('done');
  process.exit(0);
}
