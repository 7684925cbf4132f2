import { test, expect } from 'pglane/playwright';

test('the configured factories', async ({ lane }) => {
  console.log(`factory-names ${JSON.stringify(lane.factories.names())}`);
});

test('an unknown factory says what to do', async ({ lane }) => {
  let message = '';
  try {
    await lane.factories.create(process.env.IT_UNKNOWN ?? 'nope');
  } catch (err) {
    message = `${(err as { code?: string }).code}: ${(err as Error).message}`;
  }
  console.log(`unknown-factory ${message}`);
  expect(message).toMatch(/^PGLANE_FACTORY_UNKNOWN/);
});
