// A user's project as the install test creates it: pglane's config helper, its own schema,
// the embedded PostgreSQL (no DATABASE_URL), strict teardown (any row left behind fails the run).
import { definePglaneConfig } from 'pglane/playwright';

export default definePglaneConfig(
  { testDir: './tests', workers: 2, reporter: [['list'], ['pglane/reporter']] },
  { schemaFiles: ['schema.sql'], strict: true },
);
