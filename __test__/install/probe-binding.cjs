// Run by a foreign Node (arm64 under qemu, or a musl Node): loads pglane through its loader
// from a package directory laid out as an install leaves it, uses the binding, and prints what
// it saw as JSON. With PROBE_DATABASE_URL it also connects and asks the server who it is.
const pglane = require(process.argv[2]);

async function main() {
  const report = process.report.getReport();
  const ctx = pglane.WorkerContext.create({ workerIndex: 3, testId: 'probe', retry: 0, repeatEachIndex: 0 }, { runId: 'probe00001' });
  const out = {
    arch: process.arch,
    libc: report.header.glibcVersionRuntime ? 'glibc' : 'musl',
    node: process.versions.node,
    binding: Object.keys(require.cache).find((f) => f.endsWith('.node')),
    name: ctx.name('Alice'),
    like: pglane.escapeLike('50%_off'),
    runId: pglane.generateRunId(),
  };
  if (process.env.PROBE_DATABASE_URL) {
    const db = pglane.Db.connect(process.env.PROBE_DATABASE_URL);
    const info = await db.serverInfo();
    out.server = { version: info.serverVersionNum, database: info.database };
    db.close();
  }
  console.log(JSON.stringify(out));
}
main().catch((err) => {
  console.error(err);
  process.exit(1);
});
