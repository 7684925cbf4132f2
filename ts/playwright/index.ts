/**
 * `pglane/playwright`: everything a Playwright suite needs.
 *
 * ```ts
 * import { test, expect } from 'pglane/playwright';
 * test('creates an org', async ({ page, lane }) => {
 *   const org = await lane.factories.create('organization', { name: 'Acme' });
 *   // ... cleaned up after the test, with everything the app created under it
 * });
 * ```
 */
export { test, expect, type Lane, type LaneFactories, type LaneStats } from './fixtures';
export { definePglaneConfig, defaultWorkers, chromiumLaunchOptions, freePortSync, DEBIAN_CHROMIUM, DEBIAN_CHROMIUM_ARGS } from './config';
export { type PglaneOptions } from './options';
export { default as globalSetup } from './global-setup';
export * from '../index';
