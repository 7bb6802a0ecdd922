import test from 'ava';
import { ConfigError, SerializationError, UnknownWorkflowError, workflow } from '../../runtime/index.ts';
import * as wf from '../fixtures/workflows.ts';
import { launch, sql, unique } from '../support/helpers.ts';

test('a function as input is a SerializationError and no row is written', async (t) => {
  const skein = await launch(t);
  const id = unique();
  const err = await t.throwsAsync(skein.start(wf.echo, { f: () => 1 }, { id }), {
    instanceOf: SerializationError,
  });
  t.regex(err!.message, /input of workflow 'echo' cannot be stored/);
  t.deepEqual(await sql('SELECT id FROM skein.workflow_status WHERE id = $1', [id]), []);
});

test('symbols and promises as input are SerializationErrors too', async (t) => {
  const skein = await launch(t);
  await t.throwsAsync(skein.start(wf.echo, Symbol('s')), { instanceOf: SerializationError });
  await t.throwsAsync(skein.start(wf.echo, Promise.resolve(1)), { instanceOf: SerializationError });
});

test('a workflow not exported by the workflows module is an UnknownWorkflowError', async (t) => {
  const skein = await launch(t);
  const stray = workflow('stray', async () => 1);
  await t.throwsAsync(skein.start(stray, null), { instanceOf: UnknownWorkflowError, message: /'stray'/ });
});

test('invalid start options are ConfigErrors naming the option, and write nothing', async (t) => {
  const skein = await launch(t);
  await t.throwsAsync(skein.start(wf.echo, 1, { id: '' }), { instanceOf: ConfigError, message: /options\.id/ });
  await t.throwsAsync(skein.start(wf.echo, 1, { id: 'x'.repeat(1001) }), { instanceOf: ConfigError });
  await t.throwsAsync(skein.start(wf.echo, 1, { id: 42 as any }), { instanceOf: ConfigError });
  const written = await sql('SELECT id FROM skein.workflow_status WHERE id = ANY($1)', [
    ['', 'x'.repeat(1001), '42'],
  ]);
  t.deepEqual(written, []);
});

test('hostile strings as IDs are stored and found verbatim', async (t) => {
  const skein = await launch(t);
  const id = `'); DROP TABLE skein.steps; -- ${unique()} %_\\`;
  t.is(await skein.run(wf.echo, 'ok', { id }), 'ok');
  t.is((await skein.retrieve(id).status())?.id, id);
  const listed = await skein.listWorkflows({ idPrefix: `'); DROP TABLE skein.steps; -- ` });
  t.deepEqual(listed.map((s) => s.id), [id]);
  t.deepEqual(await skein.listWorkflows({ idPrefix: '%' }), [], "'%' is not a wildcard");
});

test('bad launch configuration is a ConfigError naming the option', async (t) => {
  const { Skein } = await import('../../runtime/index.ts');
  await t.throwsAsync(Skein.launch({ workflows: '' }), { instanceOf: ConfigError, message: /config\.workflows/ });
  await t.throwsAsync(Skein.launch({ workflows: 'x.js', threads: 0 }), { instanceOf: ConfigError, message: /config\.threads/ });
  await t.throwsAsync(Skein.launch({ workflows: 'x.js', schema: 'bad; drop' }), {
    instanceOf: ConfigError,
    message: /config\.schema/,
  });
});

test('two workflows with the same name are a ConfigError at launch', async (t) => {
  const { Skein } = await import('../../runtime/index.ts');
  await t.throwsAsync(
    Skein.launch({ workflows: new URL('../fixtures/duplicate-names.ts', import.meta.url), databaseUrl: 'postgres://unused' }),
    { instanceOf: ConfigError, message: /two workflows are named 'same'/ },
  );
});

test('a workflow whose schedule cannot fire is a ConfigError at launch naming the workflow and the expression', async (t) => {
  const { Skein } = await import('../../runtime/index.ts');
  await t.throwsAsync(
    Skein.launch({ workflows: new URL('../fixtures/scheduled.ts', import.meta.url), databaseUrl: 'postgres://unused' }),
    { instanceOf: ConfigError, message: /workflow 'nightly': options\.schedule.*"0 0 3 \* \* \* \*"/ },
  );
});
