/** `definePglaneConfig`: Playwright config with pglane's setup, reporter and sensible defaults. */
import type { PlaywrightTestConfig } from '@playwright/test';
import { existsSync } from 'node:fs';
import { pglaneEnv } from './database';
import type { PglaneOptions, PglaneWorkerOptions } from './options';

export { freePortSync } from './free-port';

/** Debian's Chromium and the flags it needs on CI machines and in containers. */
export const DEBIAN_CHROMIUM = '/usr/bin/chromium';
export const DEBIAN_CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** Workers: `WORKERS`, else 5 on CI and 10 locally. */
export function defaultWorkers(): number {
  const fromEnv = Number(process.env.WORKERS);
  if (Number.isInteger(fromEnv) && fromEnv > 0) return fromEnv;
  return process.env.CI ? 5 : 10;
}

/** Launch options using Debian's Chromium when Playwright's own browser is not installed. */
export function chromiumLaunchOptions(base: Record<string, unknown> = {}): Record<string, unknown> {
  let bundled: string | undefined;
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    bundled = require('playwright-core').chromium.executablePath();
  } catch {
    bundled = undefined;
  }
  if ((bundled && existsSync(bundled)) || base.executablePath || !existsSync(DEBIAN_CHROMIUM)) return base;
  const args = (base.args as string[] | undefined) ?? [];
  return { ...base, executablePath: DEBIAN_CHROMIUM, args: [...DEBIAN_CHROMIUM_ARGS, ...args] };
}

type ReporterEntry = string | [string] | [string, unknown];
type WebServer = NonNullable<PlaywrightTestConfig['webServer']> extends infer W ? (W extends readonly (infer E)[] ? E : W) : never;

/**
 * Wraps a Playwright config: pglane's options in `use.pglane` (your factories, schema files,
 * run settings; see `PglaneOptions`), pglane's global setup (embedded Postgres unless
 * DATABASE_URL, the `pglane` schema, schema files, run registry, sweep of dead runs) and
 * teardown, pglane's summary reporter, `DATABASE_URL` in the environment of every `webServer`
 * that does not set it, 10 workers locally and 5 on CI (`WORKERS` overrides), fully
 * parallel, and Debian's Chromium when Playwright's own is not installed.
 */
export function definePglaneConfig<T = {}, W = {}>(config: PlaywrightTestConfig<T, W> = {}, options: PglaneOptions = {}): PlaywrightTestConfig<T, W & PglaneWorkerOptions> {
  const userSetup = config.globalSetup ? ([] as string[]).concat(config.globalSetup as string | string[]) : [];
  const userReporters: ReporterEntry[] =
    config.reporter === undefined
      ? [['list']]
      : typeof config.reporter === 'string'
        ? [[config.reporter]]
        : (config.reporter as ReporterEntry[]);
  const use = { ...(config.use ?? {}) } as Record<string, unknown>;
  use.launchOptions = chromiumLaunchOptions((use.launchOptions as Record<string, unknown>) ?? {});
  use.pglane = { ...((use.pglane as PglaneOptions | undefined) ?? {}), ...options };
  const withDatabase = (server: WebServer): WebServer => ({ ...server, env: pglaneEnv((server.env ?? {}) as Record<string, string>, options) });
  const webServer = config.webServer === undefined
    ? undefined
    : Array.isArray(config.webServer)
      ? (config.webServer as WebServer[]).map(withDatabase)
      : withDatabase(config.webServer as WebServer);
  return {
    ...config,
    fullyParallel: config.fullyParallel ?? true,
    workers: process.env.WORKERS ? defaultWorkers() : (config.workers ?? defaultWorkers()),
    globalSetup: [require.resolve('./global-setup'), ...userSetup],
    reporter: [...(userReporters as PlaywrightTestConfig['reporter'] & unknown[]), [require.resolve('./reporter')]] as PlaywrightTestConfig['reporter'],
    ...(webServer === undefined ? {} : { webServer: webServer as PlaywrightTestConfig['webServer'] }),
    use: use as PlaywrightTestConfig<T, W & PglaneWorkerOptions>['use'],
  } as PlaywrightTestConfig<T, W & PglaneWorkerOptions>;
}
