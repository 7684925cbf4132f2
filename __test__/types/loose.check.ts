// Without a factory-types map (no PglaneFactories augmentation in this compilation), any
// factory name, attribute and trait compiles and results are rows.
import { test } from 'pglane/playwright';
import type { Row } from 'pglane';

test('loose', async ({ lane, workerLane }) => {
  const anything: Row = await lane.factories.create('anything', { whatever: 1 }, { traits: ['any'] });
  const list: Row[] = await workerLane.factories.createList('other', 2);
  const n: number = (await lane.db.one<{ n: number }>('select 1 as n')).n;
  void [anything, list, n];
});
