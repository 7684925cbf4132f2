// `node bench/explain.mjs`: where the server's time goes in one cleanup of a complete setup,
// for pglane's statement and for the best hand-written `pg` statement (c), on the same rows.
//
// It captures the statement pglane really sends (from the server log of an embedded
// PostgreSQL), then runs both statements again and again inside BEGIN ... ROLLBACK (so the same
// rows are deleted each time), with EXPLAIN (ANALYZE, SUMMARY) to split planning from execution,
// and without it for the wall time of the statement alone (no pglane or napi in the path).
// EXPLAIN=1 also prints pglane's plan. Prints p50 over WHATIF_N runs (default 100).
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { pg, summarize } from './common.mjs';
import { PglaneImpl, pglane } from './pglane-impl.mjs';

const require = createRequire(import.meta.url);
const N = Number(process.env.WHATIF_N ?? 100);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

if (process.env.DATABASE_URL) {
  console.error('explain.mjs reads the server log: run it without DATABASE_URL (it starts an embedded PostgreSQL)');
  process.exit(1);
}
const log = [];
const { startEmbeddedPostgres } = require('pglane/embedded');
const embedded = await startEmbeddedPostgres({ onLog: (l) => log.push(l), postgresFlags: ['-c', 'log_line_prefix=%a|'] });
const admin = new pg.Client({ connectionString: embedded.url });
await admin.connect();
try {
  await admin.query(readFileSync(new URL('../examples/auth-stand-in.sql', import.meta.url), 'utf8'));
  await admin.query(readFileSync(new URL('../examples/schema.sql', import.meta.url), 'utf8'));
  // Unnamed statements: the server log then shows the statement with its parameters.
  const a = new PglaneImpl(`${embedded.url}&pglane_prepare=off`, { applicationName: 'explain-a' });
  await a.warm();
  const runId = pglane.generateRunId();
  const setup = async () => {
    const lane = a.lane(runId, 1);
    return { lane, rows: await a.completeSetup(lane) };
  };

  // Warm pglane's schema cache, then capture one cleanup's statement from the server log.
  await a.cleanup((await setup()).lane);
  const captured = await setup();
  await admin.query('alter system set log_min_duration_statement = 0');
  await admin.query('select pg_reload_conf()');
  await sleep(200);
  log.length = 0;
  await a.cleanup(captured.lane);
  await sleep(300);
  await admin.query('alter system reset log_min_duration_statement');
  await admin.query('select pg_reload_conf()');
  const entries = [];
  for (const line of log.join('\n').split('\n')) {
    if (line.startsWith('\t') && entries.length) entries[entries.length - 1] += `\n${line.slice(1)}`;
    else entries.push(line);
  }
  const at = entries.findIndex((e) => /^explain-a\|LOG:\s+duration: [\d.]+ ms\s+execute <unnamed>: [\s\S]*delete from/.test(e));
  if (at < 0) throw new Error('could not capture the cleanup statement from the server log');
  const pglaneSql = /execute <unnamed>: ([\s\S]*)$/.exec(entries[at])[1];
  // Its parameters, as the server logged them: "$1 = '...', $2 = '...'".
  const detail = entries.slice(at + 1).find((e) => /DETAIL:\s+Parameters:/.test(e)) ?? '';
  const loggedParams = [...detail.matchAll(/\$(\d+) = '((?:[^']|'')*)'/g)].map((m) => m[2].replace(/''/g, "'"));

  // Fresh rows of the same shape; pglane's parameters follow its tracked tables in catalog
  // order, as the captured statement's seed conditions name them.
  const { rows: s } = await setup();
  a.close();
  const identity = (await admin.query('select id from auth.identities where user_id = $1', [s.user.id])).rows[0].id;
  const idOf = {
    'auth.users': s.user.id, 'auth.identities': identity, 'public.profiles': s.user.id, 'public.organizations': s.organization.id,
    'public.organization_members': s.membership.id, 'public.groups': s.group.id, 'public.group_members': s.groupMember.id,
    'public.models': s.model.id, 'public.group_models': s.groupModel.id, 'public.invites': s.invite.id,
  };
  // The captured lane's parameters, with the new rows' ids in place of the captured ones.
  const pglaneParams = [...loggedParams];
  for (const m of pglaneSql.matchAll(/delete from "(\w+)"\."(\w+)" t where \(?t\."id" = any\(\$(\d+)::/g)) {
    pglaneParams[Number(m[3]) - 1] = `{${idOf[`${m[1]}.${m[2]}`]}}`;
  }
  const bestSrc = readFileSync(new URL('./baseline-best.mjs', import.meta.url), 'utf8');
  const bestSql = /const CLEANUP_SQL = `([\s\S]*?)`;/.exec(bestSrc)[1];
  const u = (table) => `{${idOf[table]}}`;
  // (c)'s parameters: messages, conversations, group_models, group_members, invites, groups,
  // models, organization_members, organizations, profiles, users.
  const bestParams = ['{}', '{}', u('public.group_models'), u('public.group_members'), u('public.invites'), u('public.groups'),
    u('public.models'), u('public.organization_members'), u('public.organizations'), u('public.profiles'), u('auth.users')];

  const client = new pg.Client({ connectionString: embedded.url });
  await client.connect();
  console.log(`server time of one cleanup of a complete setup, p50 of ${N} runs (ms)`);
  console.log('                        planning  execution  statement wall (pg, unnamed)');
  for (const [label, text, values] of [['(a) pglane', pglaneSql, pglaneParams], ['(c) best pg', bestSql, bestParams]]) {
    const plan = [];
    const exec = [];
    const wall = [];
    for (let i = 0; i < N + 10; i++) {
      await client.query('begin');
      const { rows } = await client.query({ text: `explain (analyze, summary, format json) ${text}`, values });
      await client.query('rollback');
      await client.query('begin');
      const t0 = performance.now();
      await client.query({ text, values });
      const ms = performance.now() - t0;
      await client.query('rollback');
      if (i < 10) continue;
      plan.push(rows[0]['QUERY PLAN'][0]['Planning Time']);
      exec.push(rows[0]['QUERY PLAN'][0]['Execution Time']);
      wall.push(ms);
    }
    const f = (v) => summarize(v).p50.toFixed(3).padStart(9);
    console.log(`${label.padEnd(22)}${f(plan)}  ${f(exec)}  ${f(wall)}`);
  }
  if (process.env.EXPLAIN === '1') {
    console.log(`\n${pglaneSql}\n`);
    await client.query('begin');
    const { rows } = await client.query({ text: `explain (analyze, costs off) ${pglaneSql}`, values: pglaneParams });
    await client.query('rollback');
    console.log(rows.map((r) => r['QUERY PLAN']).join('\n'));
  }
  await client.end();
} finally {
  await admin.end();
  await embedded.stop();
}
