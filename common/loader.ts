// Imports the user's workflows module on whichever thread asks, once per thread and URL.
// Runs on both sides. A plain import() handles compiled JavaScript, and TypeScript in a main
// thread started under tsx. Inside a worker thread on Node 20, tsx's ESM hooks are absent and
// import() of a .ts file fails with ERR_UNKNOWN_FILE_EXTENSION; tsx's tsImport API loads it.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { scanModule, type ScannedModule } from './workflow.ts';

const loaded = new Map<string, Promise<ScannedModule>>();

/** The TypeScript source a compiled name stands for, as TypeScript's NodeNext resolution maps them. */
const SOURCE_OF: Record<string, string> = { '.js': '.ts', '.mjs': '.mts', '.cjs': '.cts', '.jsx': '.tsx' };

/**
 * The module a workflows URL names. `./workflows.js` with only `workflows.ts` beside it is the
 * TypeScript source (the way tsx and NodeNext resolve it), so the one line of the README's
 * Quickstart works both compiled and under tsx. Anything else is returned as given.
 */
export function resolveWorkflowsUrl(url: string): string {
  if (!url.startsWith('file:')) return url;
  const path = fileURLToPath(url);
  const ext = /\.[cm]?jsx?$/.exec(path)?.[0];
  const source = ext && SOURCE_OF[ext];
  if (!source || existsSync(path)) return url;
  const ts = path.slice(0, -ext.length) + source;
  return existsSync(ts) ? pathToFileURL(ts).href : url;
}

async function importModule(url: string): Promise<Record<string, unknown>> {
  try {
    return await import(url);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw err;
    const { tsImport } = await import('tsx/esm/api');
    return await tsImport(url, url);
  }
}

/** A module URL as the user knows it: a path, for a file. */
export function modulePath(url: string): string {
  return url.startsWith('file:') ? fileURLToPath(url) : url;
}

/** What a failed load says: which module, that it was being loaded, and why (the cause). */
export class ModuleLoadError extends Error {
  readonly module: string;
  constructor(url: string, cause: unknown) {
    const path = modulePath(url);
    const why = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
    const code = (cause as NodeJS.ErrnoException)?.code;
    let message = `the workflows module ${path} threw while it was being loaded: ${why}`;
    if (code === 'ERR_UNKNOWN_FILE_EXTENSION') {
      message += ' (a TypeScript module needs tsx: run the app with `tsx`, or compile it and name the .js file)';
    } else if (code === 'ERR_MODULE_NOT_FOUND' && !existsSync(path)) {
      message =
        `the workflows module ${path} does not exist (config.workflows; a relative path resolves ` +
        `against the working directory, ${process.cwd()}; new URL('./workflows.js', import.meta.url) against the file that says it)`;
    }
    super(message, { cause });
    this.name = 'ModuleLoadError';
    this.module = path;
  }
}

export function loadWorkflows(url: string): Promise<ScannedModule> {
  let entry = loaded.get(url);
  if (!entry) {
    entry = importModule(url).then(scanModule, (err) => {
      throw new ModuleLoadError(url, err);
    });
    loaded.set(url, entry);
  }
  return entry;
}
