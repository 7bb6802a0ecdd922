// Reads the README Quickstart's files: the ```ts blocks between "## Quickstart" and its first
// subsection whose first line names a file (`// main.ts`), exactly as a reader would copy them.

export function quickstartFiles(readme: string): Map<string, string> {
  const start = readme.indexOf('\n## Quickstart\n');
  if (start < 0) throw new Error('README.md has no "## Quickstart" section');
  const rest = readme.slice(start + 1);
  const end = rest.slice(1).search(/\n##/);
  const section = end < 0 ? rest : rest.slice(0, end + 1);
  const files = new Map<string, string>();
  for (const [, body] of section.matchAll(/^```ts\n([\s\S]*?)^```$/gm)) {
    const name = /^\/\/ ([\w.-]+\.ts)\n/.exec(body!)?.[1];
    if (name) files.set(name, body!);
  }
  return files;
}

/** The tsconfig.json the README's Install section gives, parsed: the one ```json block there. */
export function readmeTsconfig(readme: string): { compilerOptions: Record<string, unknown> } {
  const start = readme.indexOf('\n## Install\n');
  const end = readme.indexOf('\n## Quickstart\n');
  if (start < 0 || end < start) throw new Error('README.md has no "## Install" section before "## Quickstart"');
  const block = /^```json\n([\s\S]*?)^```$/m.exec(readme.slice(start, end));
  if (!block) throw new Error("README.md's Install section has no ```json block (the tsconfig.json)");
  return JSON.parse(block[1]!) as { compilerOptions: Record<string, unknown> };
}
