// The ```ts blocks of a package README as runnable examples, for the packages' readme.test.ts files.
import { readFileSync } from 'node:fs';
import ts from 'typescript';

export interface ReadmeExample {
  /** 1-based position among the README's ```ts blocks. */
  index: number;
  /** The first line that is not an import: a readable test name. */
  title: string;
  source: string;
  /** Module specifiers the block imports. */
  imports: string[];
}

/** Every ```ts and ```js block of the markdown file at `url` (a fence tagged `sketch`, as in ```ts sketch, is shown but not run). */
export function readmeExamples(url: URL): ReadmeExample[] {
  const text = readFileSync(url, 'utf8');
  return [...text.matchAll(/```(?:ts|js)\n([\s\S]*?)```/g)].map((m, i) => {
    const source = m[1];
    const title = source.split('\n').find((l) => l.trim() !== '' && !l.startsWith('import')) ?? '';
    return { index: i + 1, title: title.slice(0, 60), source, imports: [...source.matchAll(/(?:from|^import)\s+'([^']+)'/gm)].map((x) => x[1]) };
  });
}

/**
 * Run an example with its imports bound to `modules` (default and named imports become reads of
 * that map, types are stripped); returns what it printed with console.log, one entry per call.
 */
export async function runExample(example: ReadmeExample, modules: Record<string, unknown>): Promise<string[]> {
  for (const mod of example.imports)
    if (!(mod in modules)) throw new Error(`README example ${example.index} imports '${mod}', which the test does not provide`);
  const code = example.source
    .replace(/^import\s+'([^']+)';/gm, (_, mod) => `modules[${JSON.stringify(mod)}];`)
    .replace(/import\s+\*\s+as\s+(\w+)\s+from\s+'([^']+)';/g, (_, name, mod) => `const ${name} = modules[${JSON.stringify(mod)}];`)
    .replace(/import\s+(\w+)\s+from\s+'([^']+)';/g, (_, name, mod) => `const ${name} = modules[${JSON.stringify(mod)}];`)
    .replace(
      /import\s*\{([^}]*)\}\s*from\s+'([^']+)';/g,
      (_, names, mod) => `const {${names.replace(/\btype\s+\w+\s*,?/g, '')}} = modules[${JSON.stringify(mod)}];`,
    );
  const js = ts.transpileModule(code, { compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.None } }).outputText;
  const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor;
  const lines: string[] = [];
  const log = (...args: unknown[]) => lines.push(args.map(String).join(' '));
  await new AsyncFunction('modules', 'console', js)(modules, {
    log,
    info: log,
    warn: log,
    error: log,
    table: (rows: unknown) => lines.push(JSON.stringify(rows)),
  });
  return lines;
}
