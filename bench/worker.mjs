// One of the benchmark's worker processes (forked by run.mjs, like a Playwright worker): it
// holds the three implementations, each with its own pool of 2 connections, and on command
// runs `loops` iterations of "complete setup, then cleanup" with one of them.
import { PglaneImpl, pglane } from './pglane-impl.mjs';
import { ReferenceImpl } from './baseline-reference.mjs';
import { BestImpl } from './baseline-best.mjs';

let impls;
let worker;
let runIds;

function send(msg) {
  return new Promise((resolve) => process.send(msg, resolve));
}

async function loop(impl, runId, loops) {
  const samples = [];
  for (let i = 0; i < loops; i++) {
    const lane = impl.lane(runId, worker);
    const rt0 = impl.roundTrips;
    const st0 = impl.statements;
    const t0 = performance.now();
    const setup = await impl.completeSetup(lane);
    const t1 = performance.now();
    const report = await impl.cleanup(lane);
    const t2 = performance.now();
    if (!setup?.user?.id || !report.verified) {
      throw new Error(`worker ${worker} (${impl.key}): loop ${i} failed: ${JSON.stringify({ verified: report.verified, failures: report.failures })}`);
    }
    samples.push([t2 - t0, t1 - t0, t2 - t1, impl.roundTrips - rt0, impl.statements - st0]);
  }
  return samples;
}

process.on('message', async (msg) => {
  try {
    if (msg.cmd === 'init') {
      worker = msg.worker;
      const app = (k) => `pglane-bench-${k}-w${worker}`;
      impls = {
        a: new PglaneImpl(msg.url, { poolSize: 2, applicationName: app('a') }),
        b: new ReferenceImpl(msg.url, { poolSize: 2, applicationName: app('b') }),
        c: new BestImpl(msg.url, { poolSize: 2, applicationName: app('c') }),
      };
      runIds = { a: pglane.generateRunId(), b: pglane.generateRunId(), c: pglane.generateRunId() };
      for (const impl of Object.values(impls)) await impl.warm();
      await send({ cmd: 'ready', worker });
    } else if (msg.cmd === 'run') {
      const impl = impls[msg.impl];
      const samples = await loop(impl, runIds[msg.impl], msg.loops);
      await send({
        cmd: 'done',
        worker,
        impl: msg.impl,
        samples,
        connections: { open: impl.openConnections, max: impl.maxConnections },
      });
    } else if (msg.cmd === 'exit') {
      for (const impl of Object.values(impls ?? {})) await impl.close();
      process.exit(0);
    }
  } catch (err) {
    await send({ cmd: 'error', worker, message: err.stack ?? String(err) });
    process.exit(1);
  }
});
