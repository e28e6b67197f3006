import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import * as cli from './index.js';

// The README's examples run as written, in order, in one empty directory: every `npx condense`
// line of its ```sh blocks through the package's bin (so the built dist/), with the exit code
// its `# exit N` comment names (else 0); the ```yaml block is the recipe.yaml they use; the ```ts
// block runs against this package's sources.

const pkgDir = join(import.meta.dirname, '..');
const bin = join(pkgDir, 'bin', 'condense.js');
const built = existsSync(join(pkgDir, 'dist', 'index.js'));
const readme = readFileSync(join(pkgDir, 'README.md'), 'utf8');
const blocks = (lang: string) => [...readme.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]);

interface Line {
  args: string[];
  exit: number;
  stdoutTo?: string;
}

/** `npx condense ARGS [> FILE]   # exit N`: the arguments, the expected exit code, the redirect. */
function parse(line: string): Line {
  const [command, comment = ''] = line.split(/\s+#\s*/, 2);
  const [call, stdoutTo] = command.split(/\s*>\s*/);
  return { args: call.trim().split(/\s+/).slice(2), exit: Number(/^exit (\d+)/.exec(comment)?.[1] ?? 0), stdoutTo: stdoutTo?.trim() };
}

const lines = blocks('sh')
  .flatMap((b) => b.split('\n'))
  .filter((l) => l.startsWith('npx condense '))
  .map(parse);

function condense(args: string[], cwd: string): { code: number; stdout: string; stderr: string } {
  try {
    const stdout = execFileSync(process.execPath, [bin, ...args], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
    return { code: 0, stdout, stderr: '' };
  } catch (e) {
    const { status, stdout, stderr } = e as { status: number; stdout: string; stderr: string };
    return { code: status, stdout, stderr };
  }
}

function compile(source: string): (modules: Record<string, unknown>, console: { log(...s: unknown[]): void }) => Promise<void> {
  const code = source.replace(/import\s*\{([^}]*)\}\s*from\s+'([^']+)';/g, (_, names, mod) => `const {${names}} = modules[${JSON.stringify(mod)}];`);
  const js = ts.transpileModule(code, { compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.None } }).outputText;
  const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor;
  return new AsyncFunction('modules', 'console', js);
}

describe.skipIf(!built)('README examples run', () => {
  const dir = mkdtempSync(join(tmpdir(), 'condense-cli-readme-'));
  const cwd = process.cwd();
  afterAll(() => process.chdir(cwd));

  it('has an example for every command and the recipe they use', () => {
    for (const c of cli.COMMANDS)
      expect(
        lines.map((l) => l.args[0]),
        c.name,
      ).toContain(c.name);
    // The first yaml block is the recipe the commands use ("Save this as `recipe.yaml`").
    expect(blocks('yaml').length).toBeGreaterThanOrEqual(1);
    writeFileSync(join(dir, 'recipe.yaml'), blocks('yaml')[0]);
  });

  lines.forEach((line, i) => {
    it(`${i + 1}: condense ${line.args.join(' ')}`, () => {
      const r = condense(line.args, dir);
      expect(r.code, r.stderr).toBe(line.exit);
      if (line.exit === 1) expect(r.stderr.trim().split('\n')).toHaveLength(1);
      if (line.stdoutTo) writeFileSync(join(dir, line.stdoutTo), r.stdout);
    }, 120_000);
  });

  it('the written files are what the README says', () => {
    for (const f of ['demo-out/model.cdz', 'demo-out/model.json', 'exported/model.json', 'model.cir', 'out/model.cdz', 'out/report.html']) {
      expect(existsSync(join(dir, f)), f).toBe(true);
    }
    expect(JSON.parse(readFileSync(join(dir, 'recipe.schema.json'), 'utf8')).properties.stages).toBeDefined();
  });

  it('the code example prints what its comment says', async () => {
    const [block] = blocks('ts');
    const printed: unknown[][] = [];
    process.chdir(dir);
    await compile(block)({ '@condense/cli': cli }, { log: (...s) => printed.push(s) });
    expect(printed.map((p) => p.join(' '))).toEqual([/\/\/ (.*)$/m.exec(block)![1]]);
  });
});
