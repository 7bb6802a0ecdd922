import test from 'ava';
import { mkdtempSync, rmSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Skein } from '../../runtime/index.ts';
import * as wf from '../fixtures/workflows.ts';
import { fixtures } from '../support/helpers.ts';

test('with no database configured, Skein runs on an embedded Postgres in dataDir', async (t) => {
  // under the directory `npm test` sweeps: a timed-out run leaves no server behind
  const dir = mkdtempSync(join(process.env.SKEIN_TEST_SERVERS_DIR ?? tmpdir(), 'skein-embedded-'));
  chmodSync(dir, 0o755);
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // this file's process only: ava runs each test file in a process of its own
  delete process.env.SKEIN_DATABASE_URL;
  delete process.env.DATABASE_URL;

  const first = await Skein.launch({ workflows: fixtures, dataDir: join(dir, 'data'), threads: 1 });
  t.regex(first.databaseUrl, /^postgres:\/\/postgres:.+@127\.0\.0\.1:\d+\/postgres$/);
  const handle = await first.start(wf.echo, 'persisted');
  t.is(await handle.result(), 'persisted');
  await first.shutdown();

  // the server stopped with its Skein; a new one starts it again on the same data
  const second = await Skein.launch({ workflows: fixtures, dataDir: join(dir, 'data'), threads: 1 });
  t.teardown(() => second.shutdown());
  t.is(await second.retrieve(handle.id).result(), 'persisted');
});
