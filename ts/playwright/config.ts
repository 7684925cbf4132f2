/** `definePglaneConfig`: Playwright config with pglane's setup, reporter and sensible defaults. */
import type { PlaywrightTestConfig } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PglaneOptions } from './options';

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

/** A TCP port free a moment ago, found synchronously (config files are synchronous). */
export function freePortSync(): number {
  const out = execFileSync(process.execPath, [
    '-e',
    "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{process.stdout.write(String(s.address().port));s.close()})",
  ]);
  return Number(String(out).trim());
}

type ReporterEntry = string | [string] | [string, unknown];

/**
 * Wraps a Playwright config: pglane's global setup (embedded Postgres unless DATABASE_URL, run
 * registry, sweep of dead runs) and teardown, pglane's summary reporter, 10 workers locally and
 * 5 on CI (`WORKERS` overrides), fully parallel, and Debian's Chromium when Playwright's own is
 * not installed.
 */
export function definePglaneConfig(config: PlaywrightTestConfig = {}, options: PglaneOptions = {}): PlaywrightTestConfig {
  // One file per run, shared with the workers and web servers through the environment.
  process.env.PGLANE_STATE_FILE ??= join(tmpdir(), `pglane-run-${process.pid}-${randomBytes(4).toString('hex')}.json`);
  const userSetup = config.globalSetup ? ([] as string[]).concat(config.globalSetup as string | string[]) : [];
  const userReporters: ReporterEntry[] =
    config.reporter === undefined
      ? [['list']]
      : typeof config.reporter === 'string'
        ? [[config.reporter]]
        : (config.reporter as ReporterEntry[]);
  const use = { ...(config.use ?? {}) } as Record<string, unknown>;
  use.launchOptions = chromiumLaunchOptions((use.launchOptions as Record<string, unknown>) ?? {});
  return {
    ...config,
    fullyParallel: config.fullyParallel ?? true,
    workers: process.env.WORKERS ? defaultWorkers() : (config.workers ?? defaultWorkers()),
    globalSetup: [require.resolve('./global-setup'), ...userSetup],
    reporter: [...(userReporters as PlaywrightTestConfig['reporter'] & unknown[]), [require.resolve('./reporter')]] as PlaywrightTestConfig['reporter'],
    metadata: { ...(config.metadata ?? {}), pglane: options },
    use,
  };
}
