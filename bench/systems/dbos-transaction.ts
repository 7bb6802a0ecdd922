// The DBOS Transact TypeScript SDK's side of the transaction benchmark (bench/transaction.ts), one
// pass, in a process of its own (DBOS is a process-wide singleton), at DBOS's defaults. DBOS's
// transaction: @dbos-inc/drizzle-datasource (node-postgres underneath; @dbos-inc/node-pg-datasource
// is not on this machine's registry), a DrizzleDataSource 'app' on the system database (as skein's
// default datasource is), the workflow's one `ds.runTransaction` running the same Drizzle INSERT +
// UPDATE (bench/transaction-workflows.ts, writeOrder) through the transaction's Drizzle client,
// its output recorded in dbos.transaction_completion in that transaction, then the step recorded
// in the system database (operation_outputs). DBOS runs workflows on this (the main) thread.
//
// Compatibility: drizzle-datasource 4.27.6 (the newest published) calls two helpers of
// '@dbos-inc/dbos-sdk/datasource' that SDK 5.3.0 no longer exports (checkSchemaInstallationPG,
// createTransactionCompletionSchemaPG): its initialize(), run by DBOS.launch(), fails with
// "Database could not be queried". So, before launch, this installs the datasource schema with
// SDK 5.3.0's own initializeDataSourceSchemaPG (dbos.transaction_completion, versioned), and
// supplies the missing existence check, which then finds it installed. Nothing on the path of a
// transaction is touched.
import { DBOS } from '@dbos-inc/dbos-sdk';
import { DrizzleDataSource } from '@dbos-inc/drizzle-datasource';
import type { NodePgDatabase } from 'drizzle-orm/node-postgres';
import { createRequire } from 'node:module';
import {
  checkRows,
  openPass,
  runPass,
  sendResults,
  writeOrder,
  type OrderInput,
  type OrderOutput,
} from '../transaction-workflows.ts';

const { args, workflows, admin } = await openPass();
const { databaseUrl } = args;

// the module instance drizzle-datasource requires (CommonJS: one per file)
const require = createRequire(import.meta.url);
const datasourceApi = require('@dbos-inc/dbos-sdk/datasource') as Record<string, unknown> & {
  initializeDataSourceSchemaPG(exec: (sql: string) => Promise<unknown[]>, schemaName?: string): Promise<void>;
};
const notes: string[] = [];
if (typeof datasourceApi.checkSchemaInstallationPG !== 'function') {
  // SDK 5.3.0's migration, in one transaction (as it asks)
  await admin.query('BEGIN');
  await datasourceApi.initializeDataSourceSchemaPG(async (text) => (await admin.query(text)).rows, 'dbos');
  await admin.query('COMMIT');
  const literal = (s: string) => `'${s.replace(/'/g, "''")}'`;
  datasourceApi.checkSchemaInstallationPG = (schemaName: string) =>
    `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = ${literal(schemaName)}) AS schema_exists, ` +
    `EXISTS (SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = ${literal(schemaName)} AND tablename = 'transaction_completion') AS table_exists`;
  notes.push(
    'drizzle-datasource 4.27.6 with SDK 5.3.0: the datasource schema was installed with the SDK\'s initializeDataSourceSchemaPG ' +
      'and the missing checkSchemaInstallationPG supplied (see bench/systems/dbos-transaction.ts)',
  );
}

DBOS.setConfig({ name: 'skein-bench-transaction', systemDatabaseUrl: databaseUrl, logLevel: 'error' });
// a pool of node-postgres's defaults (max 10), as DrizzleDataSource makes from a config
const ds = new DrizzleDataSource('app', { connectionString: databaseUrl });

const placeOrder = DBOS.registerWorkflow(
  async (input: OrderInput): Promise<OrderOutput> => {
    const t0 = performance.now();
    // (the cast: drizzle-datasource is CommonJS and types its client with drizzle-orm's CommonJS
    // declarations, this module imports drizzle-orm's ES ones; at run time drizzle-orm tells its
    // objects apart by their entityKind, not their class, so the two builds work together)
    const n = await ds.runTransaction(() => writeOrder(ds.client as unknown as NodePgDatabase, input), { name: 'placeOrder' });
    return { n, txMs: performance.now() - t0 };
  },
  { name: 'placeOrder' },
);

await DBOS.launch();
const figures = await runPass(async (input) => {
  const h = await DBOS.startWorkflow(placeOrder)(input);
  return { result: () => h.getResult() };
}, args);
await DBOS.shutdown();

const check = await checkRows(admin, workflows, 'dbos.transaction_completion');
await admin.end();
sendResults({ ...figures, check, notes });
