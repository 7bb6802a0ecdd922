// Reads what a reader copies from the README: the Quickstart's files and the Install section's
// tsconfig.json, exactly as written there.

/** The text of `## heading`, up to the next heading of any level. */
function section(readme: string, heading: string): string {
  const start = readme.indexOf(`\n## ${heading}\n`);
  if (start < 0) throw new Error(`README.md has no "## ${heading}" section`);
  const rest = readme.slice(start + 1);
  const end = rest.slice(1).search(/\n##/);
  return end < 0 ? rest : rest.slice(0, end + 1);
}

/** The ```ts blocks of the Quickstart whose first line names a file (`// main.ts`), by name. */
export function quickstartFiles(readme: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const [, body] of section(readme, 'Quickstart').matchAll(/^```ts\n([\s\S]*?)^```$/gm)) {
    const name = /^\/\/ ([\w.-]+\.ts)\n/.exec(body!)?.[1];
    if (name) files.set(name, body!);
  }
  return files;
}

/** The tsconfig.json the README's Install section gives, parsed: the one ```json block there. */
export function readmeTsconfig(readme: string): { compilerOptions: Record<string, unknown> } {
  const block = /^```json\n([\s\S]*?)^```$/m.exec(section(readme, 'Install'));
  if (!block) throw new Error("README.md's Install section has no ```json block (the tsconfig.json)");
  return JSON.parse(block[1]!) as { compilerOptions: Record<string, unknown> };
}
