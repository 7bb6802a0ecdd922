// skein's side of the transaction benchmark (bench/transaction.ts), one pass, in a process of its
// own, at skein's defaults (no tuning: threads = cores, the default workflowsPerThread, the default
// datasource 'app' = the system database with poolSize 4 per thread). The workflow
// (bench/transaction-workflows.ts, placeOrder) runs one ctx.transaction on its worker thread:
// the Drizzle INSERT + UPDATE through `drizzle({ client: tx })`, the output recorded in
// skein.transaction_outputs in that same transaction, then checkpointed like a step.
import { Skein } from '../../runtime/index.ts';
import { checkRows, openPass, placeOrder, runPass, sendResults } from '../transaction-workflows.ts';

const { args, workflows, admin } = await openPass();
const { databaseUrl } = args;

const skein = await Skein.launch({ workflows: new URL('../transaction-workflows.ts', import.meta.url), databaseUrl });
const figures = await runPass((input) => skein.start(placeOrder, input), args);
await skein.shutdown();

const check = await checkRows(admin, workflows, 'skein.transaction_outputs');
await admin.end();
sendResults({ ...figures, check, notes: [] });
