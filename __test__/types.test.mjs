// Factory types (tsc): with examples/taskboard's factory-types map, names, attributes and
// traits are checked and results typed (every `@ts-expect-error` in
// examples/taskboard/e2e/factory-types.check.ts must be an error, or tsc fails); without a map,
// everything is accepted (__test__/types/loose.check.ts).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';

function tsc(project) {
  const r = spawnSync('npx', ['tsc', '-p', project], { encoding: 'utf8' });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

test('a factory-types map makes misuse fail to compile and correct use pass', { timeout: 120_000 }, () => {
  const r = tsc('examples/taskboard/tsconfig.json');
  assert.equal(r.code, 0, r.out);
});

test('without a map, any factory compiles and results are rows', { timeout: 120_000 }, () => {
  const r = tsc('__test__/types/tsconfig.json');
  assert.equal(r.code, 0, r.out);
});
