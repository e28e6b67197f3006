#!/usr/bin/env node
// `npm run check:exports [-- DIR...]`: packs every workspace package that has an exports map (after
// `npm run build`) and checks the tarball three ways, offline: our own entry-point and `files`
// checks (check.mjs), publint (strict), and attw (are the types wrong) on the tarball.
// ESM-only by design, so attw's cjs-resolves-to-esm is not a problem here.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import { packageProblems } from './check.mjs';

const root = join(import.meta.dirname, '..', '..');
const attw = join(root, 'node_modules', '.bin', 'attw');

function workspacePackages() {
  return ['packages', 'examples']
    .flatMap((group) => readdirSync(join(root, group)).map((name) => join(root, group, name)))
    .filter((dir) => existsSync(join(dir, 'package.json')) && JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).exports);
}

/** `npm pack` into `out`: the tarball's path and the packed file paths. */
function pack(dir, out) {
  const [info] = JSON.parse(
    execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', out], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }),
  );
  return { tarball: join(out, info.filename), files: info.files.map((f) => f.path) };
}

async function check(dir, out) {
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const { tarball, files } = pack(dir, out);
  const problems = packageProblems(pkg, files, (target) => existsSync(join(dir, target)));

  const data = readFileSync(tarball);
  const lint = await publint({ pack: { tarball: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) }, strict: true });
  for (const m of lint.messages) problems.push(`publint ${m.type}: ${formatMessage(m, lint.pkg, { color: false })}`);

  try {
    execFileSync(attw, [tarball, '--no-definitely-typed', '--ignore-rules', 'cjs-resolves-to-esm', '--format', 'ascii', '--no-color', '--no-emoji'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (e) {
    problems.push(`attw:\n${(e.stdout || e.message).trim()}`);
  }
  return { name: pkg.name, problems };
}

const dirs = process.argv.length > 2 ? process.argv.slice(2).map((d) => join(process.cwd(), d)) : workspacePackages();
const out = mkdtempSync(join(tmpdir(), 'condense-exports-'));
let failed = 0;
try {
  for (const dir of dirs) {
    if (!existsSync(join(dir, 'dist'))) {
      console.error(`${relative(root, dir)}: no dist/; run \`npm run build\` first`);
      failed++;
      continue;
    }
    const { name, problems } = await check(dir, out);
    console.log(problems.length ? `${name}: ${problems.length} problem(s)\n${problems.map((p) => `  - ${p}`).join('\n')}` : `${name}: ok`);
    if (problems.length) failed++;
  }
} finally {
  rmSync(out, { recursive: true, force: true });
}
console.log(failed ? `exports: ${failed} of ${dirs.length} packages have problems` : `exports: all ${dirs.length} packages ok`);
process.exitCode = failed ? 1 : 0;
