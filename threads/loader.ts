// Imports the user's workflows module on whichever thread asks, once per thread and URL.
// Runs on both sides. A plain import() handles compiled JavaScript, and TypeScript in a main
// thread started under tsx. Inside a worker thread on Node 20, tsx's ESM hooks are absent and
// import() of a .ts file fails with ERR_UNKNOWN_FILE_EXTENSION; tsx's tsImport API loads it.
import { scanModule, type ScannedModule } from './workflow.ts';

const loaded = new Map<string, Promise<ScannedModule>>();

async function importModule(url: string): Promise<Record<string, unknown>> {
  try {
    return await import(url);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw err;
    const { tsImport } = await import('tsx/esm/api');
    return await tsImport(url, url);
  }
}

export function loadWorkflows(url: string): Promise<ScannedModule> {
  let entry = loaded.get(url);
  if (!entry) {
    entry = importModule(url).then(scanModule);
    loaded.set(url, entry);
  }
  return entry;
}
