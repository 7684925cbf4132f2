import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { databaseUrl, pgClient, pglane, stopDatabase, thrown } from './helpers.mjs';

const { WorkerContext, escapeLike, generateRunId, errorCodes } = pglane;
const RUN = 'jsrun00001';
const info = (workerIndex, testId, extra = {}) => ({ workerIndex, testId, retry: 0, repeatEachIndex: 0, ...extra });

describe('WorkerContext', () => {
  test('names carry the run, the worker and the test', () => {
    const ctx = WorkerContext.create(info(4, 'names-1'), { runId: RUN });
    assert.equal(ctx.workerId, 4);
    assert.equal(ctx.getWorkerId(), 4);
    assert.equal(ctx.runId, RUN);
    assert.equal(ctx.name('Alice'), `${RUN}-w4-${ctx.testIndex}-Alice`);
    assert.match(ctx.email('Alice Smith'), new RegExp(`^${RUN}-w4-${ctx.testIndex}-alice-smith--[0-9a-f]{16}@pglane\\.test$`));
    assert.match(ctx.slug('Acme Corp'), /^[a-z0-9-]+$/);
    assert.equal(ctx.testPattern(), `${RUN}-w4-${ctx.testIndex}-%`);
    assert.equal(ctx.workerPattern(), `${RUN}-w4-%`);
    assert.equal(ctx.likePattern('run'), `${RUN}-w%`);
  });

  test('the same test gets the same lane; a retry, a repeat or another test gets a new one', () => {
    const a = WorkerContext.create(info(1, 'same-test'), { runId: RUN });
    const again = WorkerContext.create(info(1, 'same-test'), { runId: RUN });
    const retry = WorkerContext.create(info(1, 'same-test', { retry: 1 }), { runId: RUN });
    const repeat = WorkerContext.create(info(1, 'same-test', { repeatEachIndex: 1 }), { runId: RUN });
    const other = WorkerContext.create(info(1, 'other-test'), { runId: RUN });
    assert.equal(a.testIndex, again.testIndex);
    const indexes = new Set([a.testIndex, retry.testIndex, repeat.testIndex, other.testIndex]);
    assert.equal(indexes.size, 4);
  });

  test('name() agrees with the native rule on every kind of input', () => {
    const ctx = WorkerContext.create(info(5, 'fast-path'), { runId: RUN });
    const prefix = ctx.prefix('test');
    const cases = ['a', 'x'.repeat(128), '日本語', '😀'.repeat(64), '😀'.repeat(65), 'tab\tin', 'del\u007f', 'c1\u0085', '%_\\\'"', ' spaced ',
      '\ud800', '\udc00', 'a\ud83db', 'a\ufffdb', '\ud83d\ude00'];
    for (const base of cases) {
      const codePoints = [...base].length;
      const loneSurrogate = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(base);
      const valid = codePoints >= 1 && codePoints <= 128 && !/[\u0000-\u001f\u007f-\u009f\ufffd]/.test(base) && !loneSurrogate;
      if (valid) assert.equal(ctx.name(base), prefix + base, JSON.stringify(base));
      else assert.equal(thrown(() => ctx.name(base)).code, 'PGLANE_INVALID_NAME', JSON.stringify(base));
    }
    // Lone surrogates reached native code as one U+FFFD: two inputs, one slug.
    assert.equal(thrown(() => ctx.slug('\ud800')).code, 'PGLANE_INVALID_NAME');
    assert.equal(thrown(() => ctx.name(42)).code, 'PGLANE_INVALID_ARGUMENT');
  });

  test('uuid() is a version 7 UUID and never repeats', () => {
    const ctx = WorkerContext.create(info(0, 'uuid'), { runId: RUN });
    const ids = Array.from({ length: 1000 }, () => ctx.uuid());
    for (const id of ids.slice(0, 5)) assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(new Set(ids).size, ids.length);
  });

  test('bad base names throw PGLANE_INVALID_NAME and say why', () => {
    const ctx = WorkerContext.create(info(0, 'bad-names'), { runId: RUN });
    for (const bad of ['', 'line\nbreak', 'nul\u0000byte', 'x'.repeat(129)]) {
      const err = thrown(() => ctx.name(bad));
      assert.equal(err.code, 'PGLANE_INVALID_NAME', JSON.stringify(bad));
      assert.ok(err.message.length > 10);
    }
    assert.equal(thrown(() => ctx.email('')).code, 'PGLANE_INVALID_NAME');
    assert.equal(thrown(() => ctx.likePattern('galaxy')).code, 'PGLANE_INVALID_CONFIG');
  });

  test('bad options throw PGLANE_INVALID_CONFIG', () => {
    assert.equal(thrown(() => WorkerContext.create(info(0, 'x'), { runId: 'Not Valid!' })).code, 'PGLANE_INVALID_CONFIG');
    assert.equal(thrown(() => WorkerContext.create(info(0, 'x'), { runId: RUN, nameFormat: '{name}' })).code, 'PGLANE_INVALID_CONFIG');
    assert.equal(thrown(() => WorkerContext.create(info(0, 'x'), { runId: RUN, emailDomain: 'Bad Domain' })).code, 'PGLANE_INVALID_CONFIG');
  });

  test('a custom format and email domain are honoured', () => {
    const ctx = WorkerContext.create(info(2, 'fmt'), { runId: RUN, nameFormat: '{run}.e2e.{worker}.{test}.{name}', emailDomain: 'example.test' });
    assert.equal(ctx.name('x'), `${RUN}.e2e.2.${ctx.testIndex}.x`);
    assert.ok(ctx.email('bob').endsWith('@example.test'));
    assert.equal(ctx.testPattern(), `${RUN}.e2e.2.${ctx.testIndex}.%`);
  });

  test('a format that puts text before the run id is refused: run x+abcd would pass for run xabcd', () => {
    const err = thrown(() => WorkerContext.create(info(2, 'fmt-x'), { runId: 'abcd1234', nameFormat: 'x{run}-w{worker}-{test}-{name}' }));
    assert.equal(err.code, 'PGLANE_INVALID_CONFIG');
    assert.match(err.message, /must start with \{run\}/);
    assert.equal(thrown(() => WorkerContext.create(info(0, 'short-run'), { runId: 'abcd' })).code, 'PGLANE_INVALID_CONFIG');
  });

  test('slugs of different inputs stay different (a 24-bit hash made these one slug)', () => {
    const ctx = WorkerContext.create(info(2, 'slug-collide'), { runId: RUN });
    assert.notEqual(ctx.slug('a:++!b'), ctx.slug('a!$#?b'));
    assert.notEqual(ctx.slug('Acme Corp!'), ctx.slug('acme-corp'));
  });

  test('generated run ids are short, valid and distinct', () => {
    // Thousands in one second: the per-process counter keeps them distinct (four random
    // digits per call repeated about once in 80 batches of 200).
    const ids = new Set(Array.from({ length: 5000 }, () => generateRunId()));
    assert.equal(ids.size, 5000);
    for (const id of ids) assert.match(id, /^[0-9a-z]{10}$/);
  });

  test('every error code is listed', () => {
    const codes = errorCodes();
    assert.ok(codes.includes('PGLANE_INVALID_NAME'));
    assert.ok(codes.every((c) => c.startsWith('PGLANE_')));
  });
});

describe('LIKE patterns in a real Postgres', () => {
  let client;
  before(async () => {
    client = await pgClient(await databaseUrl());
  });
  after(async () => {
    await client?.end();
    await stopDatabase();
  });

  test('escapeLike makes %, _ and \\ literal', async () => {
    const cases = [
      ['50%_off', '50%_off', true],
      ['50%_off', '50XYoff', false],
      ['a_b', 'axb', false],
      ['back\\slash', 'back\\slash', true],
    ];
    for (const [literal, text, expected] of cases) {
      const { rows } = await client.query('select $1::text like $2::text as m', [text, escapeLike(literal)]);
      assert.equal(rows[0].m, expected, `${text} like escape(${literal})`);
    }
  });

  test("a lane's pattern matches its own names and no neighbour's", async () => {
    const bases = ['plain', '100%', 'under_score', "o'brien", 'back\\slash', '日本語', 'x'.repeat(128)];
    const lanes = [
      WorkerContext.create(info(1, 'p-a'), { runId: RUN }),
      WorkerContext.create(info(1, 'p-b'), { runId: RUN }),
      WorkerContext.create(info(11, 'p-c'), { runId: RUN }),
      WorkerContext.create(info(1, 'p-d'), { runId: 'jsrun00002' }),
    ];
    const all = lanes.flatMap((ctx, lane) => bases.flatMap((b) => [ctx.name(b), ctx.email(b), ctx.slug(b)].map((v) => [lane, v])));
    for (const [lane, ctx] of lanes.entries()) {
      const { rows } = await client.query(
        'select v.lane, v.name from unnest($1::int[], $2::text[]) as v(lane, name) where v.name like $3',
        [all.map((a) => a[0]), all.map((a) => a[1]), ctx.testPattern()],
      );
      assert.equal(rows.length, bases.length * 3, `lane ${lane}`);
      assert.ok(rows.every((r) => r.lane === lane), `lane ${lane} matched another lane's names`);
    }
    const worker1 = await client.query('select count(*)::int as n from unnest($1::text[]) as v(name) where name like $2', [all.map((a) => a[1]), lanes[0].workerPattern()]);
    assert.equal(worker1.rows[0].n, bases.length * 3 * 2, 'worker 1 of run 1 owns lanes a and b only');
  });
});
