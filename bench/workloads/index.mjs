// The workloads of this folder, as run.mjs runs them (after its own): a group id, the ids of
// the results it produces (BENCH_ONLY takes either), and `run({ url, admin, embedded, wanted })`
// resolving with one result or several. Plus the goals of issues 15 and 20 they check.
import { connectionsWorkload } from './connections.mjs';
import { fixtureWorkload } from './fixture.mjs';
import { hostedWorkload } from './hosted.mjs';
import { memoryWorkload } from './memory.mjs';
import { netboxWorkloads } from './netbox.mjs';
import { shopWorkloads } from './shop.mjs';

export const EXTRA_WORKLOADS = [
  { id: 'shop', ids: ['shopSetup', 'shopCleanup'], run: ({ url, admin, wanted }) => shopWorkloads(url, admin, wanted) },
  { id: 'hosted', ids: [], run: ({ url, admin }) => hostedWorkload(url, admin) },
  { id: 'fixture', ids: [], run: ({ url }) => fixtureWorkload(url) },
  { id: 'memory', ids: [], run: ({ url }) => memoryWorkload(url) },
  { id: 'connections', ids: [], run: ({ url, admin }) => connectionsWorkload(url, admin) },
  { id: 'netbox', ids: ['netboxCleanup', 'netboxSweep'], run: ({ url, admin, wanted }) => netboxWorkloads(url, admin, wanted) },
];

/** MET / NOT MET lines for the goals of issues 15 and 20 (`by`: results by id). */
export function extraGoals(by) {
  const list = [];
  const compared = Object.values(by).filter((w) => w.results.a && w.results.c);
  if (compared.length) {
    const below = compared.filter((w) => w.results.c.p50 / w.results.a.p50 < 1);
    const worst = Math.min(...compared.map((w) => w.results.c.p50 / w.results.a.p50));
    list.push({
      goal: `every workload's (c)/(a) >= 1.0 (${below.length ? `${below.length} of ${compared.length} below` : `all ${compared.length}`}; lowest)`,
      target: 1,
      measured: worst,
      met: below.length === 0,
    });
  }
  if (by.sweep?.results.b) {
    const r = by.sweep.results.b.p50 / by.sweep.results.a.p50;
    list.push({ goal: 'sweep no slower than (b)', target: 1, measured: r, met: r >= 1 });
  }
  for (const w of Object.values(by)) for (const g of w.goals ?? []) list.push(g);
  return list;
}
