import { describe, expect, it } from 'vitest';
import { exportTargets, packageProblems } from './check.mjs';

const pkg = {
  name: '@condense/x',
  exports: {
    '.': { types: './dist/index.d.ts', source: './src/index.ts', import: './dist/index.js' },
    './loader': { types: './dist/loader.d.ts', import: './dist/loader.js' },
    './package.json': './package.json',
  },
  main: './dist/index.js',
  types: './dist/index.d.ts',
  typesVersions: { '*': { loader: ['./dist/loader.d.ts'] } },
  bin: { x: './bin/x.js' },
  files: ['bin', 'dist', 'README.md'],
};
const packed = ['package.json', 'README.md', 'bin/x.js', 'dist/index.js', 'dist/index.d.ts', 'dist/loader.js', 'dist/loader.d.ts'];

describe('exportTargets', () => {
  it('lists every target with the conditions that lead to it', () => {
    expect(exportTargets({ '.': { types: './a.d.ts', node: { import: './a.js' } }, './b': ['./b.js'] })).toEqual([
      { target: './a.d.ts', conditions: ['types'] },
      { target: './a.js', conditions: ['node', 'import'] },
      { target: './b.js', conditions: [] },
    ]);
  });
});

describe('packageProblems', () => {
  it('passes a package whose every entry point is packed', () => {
    expect(packageProblems(pkg, packed)).toEqual([]);
  });

  it('names the condition and path of an entry point the tarball lacks', () => {
    const problems = packageProblems(
      pkg,
      packed.filter((f) => f !== 'dist/loader.d.ts'),
    );
    expect(problems).toEqual([
      'exports [types] -> ./dist/loader.d.ts: not in the packed tarball',
      'typesVersions[*][loader] -> ./dist/loader.d.ts: not in the packed tarball',
    ]);
  });

  it('checks main, types and bin', () => {
    expect(packageProblems(pkg, ['package.json', 'README.md', 'dist/loader.js', 'dist/loader.d.ts'])).toEqual([
      'exports [types] -> ./dist/index.d.ts: not in the packed tarball',
      'exports [import] -> ./dist/index.js: not in the packed tarball',
      'main -> ./dist/index.js: not in the packed tarball',
      'types -> ./dist/index.d.ts: not in the packed tarball',
      'bin x -> ./bin/x.js: not in the packed tarball',
      "files: 'bin' packs nothing",
    ]);
  });

  it('looks for a dev-only condition in the repository, not the tarball', () => {
    expect(packageProblems(pkg, packed, (t) => t !== './src/index.ts')).toEqual(['exports [source] -> ./src/index.ts: no such file in the repository']);
  });

  it('reports a files entry that packs nothing, globs included', () => {
    const files = ['dist/*.js', 'data/**/*.gz', 'README.md', 'LICENSE'];
    expect(packageProblems({ files }, ['dist/a.js', 'data/sub/x.gz', 'README.md'])).toEqual(["files: 'LICENSE' packs nothing"]);
    expect(packageProblems({ files: ['dist/*.js'] }, ['dist/a.d.ts'])).toEqual(["files: 'dist/*.js' packs nothing"]);
  });
});
