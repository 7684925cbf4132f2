import { ResourceTracker, test } from 'pglane/playwright';

// Each test creates rows two ways, says so on stdout, and waits: the run ends by a signal.
// - through `lane`: the fixture cleans them when Playwright stops the worker;
// - through a tracker of its own, as a worker killed mid-test leaves them: only the run's
//   teardown finds them (by lane name and journal), so it must run with the database up.
for (let i = 0; i < 4; i++) {
  test(`holds its rows until interrupted ${i}`, async ({ lane }) => {
    test.setTimeout(120_000);
    await lane.factories.create('completeSetup');
    const unknownToTheFixture = ResourceTracker.forTest({}, lane.ctx, lane.db);
    await lane.factories.registry.create('organization', lane.ctx, unknownToTheFixture, { name: 'Held' });
    console.log(`PGLANE_HOLDING ${lane.ctx.testPattern()}`);
    await new Promise((r) => setTimeout(r, 100_000));
  });
}
