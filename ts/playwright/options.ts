/** Options of pglane's Playwright integration, and where they come from. */
import type { FullConfig } from '@playwright/test';

export interface PglaneOptions {
  /** SQL files applied in global setup, in order (e.g. your migrations or a schema dump). */
  schemaFiles?: string[];
  /** Fail the run when its teardown finds rows left behind, instead of sweeping them (`PGLANE_STRICT=1`). */
  strict?: boolean;
  /** A run whose heartbeat is older than this is dead and may be swept (default 120 s). */
  heartbeatTtlSeconds?: number;
  /** Heartbeat interval (default 20 s). */
  heartbeatSeconds?: number;
  /** Sweep dead runs even if the database is not marked as a test database (`PGLANE_ALLOW_SWEEP=1`). */
  allowSweep?: boolean;
  /** Print what setup and teardown do (default true). */
  verbose?: boolean;
  /**
   * Regenerate the TypeScript types of the schema and the factories (what `npx pglane types`
   * writes) in global setup, after `schemaFiles`, when they changed: `true` writes
   * `pglane-types.d.ts`; an object gives `out`, `factories` (files) and `preset`.
   */
  types?: boolean | { out?: string; factories?: string[]; preset?: boolean };
}

export function resolveOptions(config?: FullConfig | null): Required<Omit<PglaneOptions, 'schemaFiles'>> & { schemaFiles: string[] } {
  const fromConfig = ((config?.metadata as Record<string, unknown> | undefined)?.pglane ?? {}) as PglaneOptions;
  const envFlag = (name: string) => process.env[name] === '1' || process.env[name] === 'true';
  return {
    schemaFiles: fromConfig.schemaFiles ?? [],
    strict: fromConfig.strict ?? envFlag('PGLANE_STRICT'),
    heartbeatTtlSeconds: fromConfig.heartbeatTtlSeconds ?? (Number(process.env.PGLANE_HEARTBEAT_TTL) || 120),
    heartbeatSeconds: fromConfig.heartbeatSeconds ?? 20,
    allowSweep: fromConfig.allowSweep ?? envFlag('PGLANE_ALLOW_SWEEP'),
    verbose: fromConfig.verbose ?? process.env.PGLANE_QUIET !== '1',
    types: fromConfig.types ?? false,
  };
}
