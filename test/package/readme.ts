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
