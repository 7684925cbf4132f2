/**
 * `pglane/playwright`: everything a Playwright suite needs.
 *
 * ```ts
 * import { test, expect } from 'pglane/playwright';
 * test('a project has tasks', async ({ page, lane }) => {
 *   const project = await lane.factories.create('project', { name: 'Apollo' });
 *   const tasks = await lane.db.query('select * from tasks where project_id = $1', [project.id]);
 *   // ... cleaned up after the test, with everything the app created under it
 * });
 * ```
 */
export {
  test,
  expect,
  pglaneTest,
  type Lane,
  type LaneFactories,
  type LaneStats,
  type PglaneTest,
  type PglaneTestFixtures,
  type PglaneWorkerFixtures,
} from './fixtures';
export { definePglaneConfig, defaultWorkers, chromiumLaunchOptions, freePortSync, DEBIAN_CHROMIUM, DEBIAN_CHROMIUM_ARGS } from './config';
export { pglaneEnv, databaseUrl } from './database';
export { type PglaneOptions, type PglaneWorkerOptions, type SchemaFileOption, type FactoryDefinitions } from './options';
export { default as globalSetup } from './global-setup';
export * from '../index';
