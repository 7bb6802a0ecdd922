// One logger (issue 12): the default prints readable or JSON lines from SKEIN_LOG; a given one
// gets every line, with fields naming the executor and the workflow; no password reaches a line
// or a dump of the Skein.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { inspect } from 'node:util';
import type { LogFields, Logger } from '../../common/logger.ts';
import * as wf from '../fixtures/workflows.ts';
import { launch, unique, waitFor } from '../support/helpers.ts';

interface Line {
  level: string;
  message: string;
  fields: LogFields;
}

function capture(): { logger: Logger; lines: Line[] } {
  const lines: Line[] = [];
  const at = (level: string) => (message: string, fields: LogFields = {}) => lines.push({ level, message, fields });
  return { logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }, lines };
}

/** What the default logger of a fresh process prints on stderr under SKEIN_LOG=`setting`. */
function defaultOutput(setting: string): string {
  const script = `
    import { defaultLogger } from './common/logger.ts';
    const log = defaultLogger();
    log.debug('quiet', { a: 1 }); log.info('launched', { executorId: 'e1' });
    log.warn('careful'); log.error('broken', { workflowId: 'w"1' });`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    env: { ...process.env, SKEIN_LOG: setting },
    encoding: 'utf8',
  });
  return r.stderr;
}

test('the default logger: readable lines from info up, debug when asked, one JSON object a line with SKEIN_LOG=json', (t) => {
  t.is(defaultOutput('info'), 'launched {"executorId":"e1"}\nwarn: careful\nerror: broken {"workflowId":"w\\"1"}\n');
  t.is(defaultOutput('error'), 'error: broken {"workflowId":"w\\"1"}\n');
  t.true(defaultOutput('debug').startsWith('debug: quiet {"a":1}\n'));
  const json = defaultOutput('json').trim().split('\n').map((l) => JSON.parse(l));
  t.deepEqual(
    json.map(({ level, msg, executorId, workflowId }) => ({ level, msg, executorId, workflowId })),
    [
      { level: 'info', msg: 'launched', executorId: 'e1', workflowId: undefined },
      { level: 'warn', msg: 'careful', executorId: undefined, workflowId: undefined },
      { level: 'error', msg: 'broken', executorId: undefined, workflowId: 'w"1' },
    ],
  );
  t.true(json.every((l) => !Number.isNaN(Date.parse(l.time))));
});

test("a given logger gets launch and thread deaths, each line naming the executor, a workflow's naming it", async (t) => {
  const { logger, lines } = capture();
  const skein = await launch(t, { logger, threads: 1 });
  const launched = lines.find((l) => /launched/.test(l.message));
  t.truthy(launched, JSON.stringify(lines));
  t.is(launched!.level, 'info');
  t.is(launched!.fields.executorId, skein.executorId);
  t.is(launched!.fields.appVersion, skein.appVersion);

  const handle = await skein.start(wf.slowSteps, { key: unique(), steps: 50, stepMs: 100 });
  await waitFor(async () => (await skein.getWorkflowSteps(handle.id)).length > 0);
  await skein.killThread(handle.id);
  await waitFor(() => lines.some((l) => l.fields.workflowId === handle.id));
  const death = lines.find((l) => l.fields.workflowId === handle.id)!;
  t.is(death.level, 'warn');
  t.regex(death.message, /thread died/);
  t.is(death.fields.executorId, skein.executorId);
  t.is(death.fields.name, 'slowSteps');
});

test('the database password reaches no log line, and no dump of a Skein', async (t) => {
  const { logger, lines } = capture();
  const skein = await launch(t, { logger });
  const password = new URL(skein.databaseUrl).password;
  t.true(password.length > 0, 'the test database has no password to hide');
  const everything = JSON.stringify(lines);
  t.false(everything.includes(password), everything);
  t.regex(everything, /:\*\*\*@/, 'the launch line names the database, password hidden');
  t.false(inspect(skein, { depth: 5 }).includes(password), 'util.inspect(skein) shows the password');
  t.false(Object.keys(skein).includes('databaseUrl'));
  // and the raw URL is still there for a Client or psql
  t.regex(skein.databaseUrl, new RegExp(`:${password}@`));
});
