#!/usr/bin/env node
// Scaffold a plugin package: `npm run new-plugin -- <name> [--description "..."]`.
// Writes packages/<name>/ (package.json, tsup config, tsconfig, src/index.ts with a registered
// plugin skeleton, a test, a README), then links it into the workspace with `npm install`.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { commitStage, makeStage } from '@condense/files';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { description: { type: 'string' }, 'no-install': { type: 'boolean' }, dir: { type: 'string' } },
});
const name = positionals[0];
if (!name || !/^[a-z][a-z0-9-]*$/.test(name)) {
  console.error('usage: npm run new-plugin -- <name> [--description "..."] [--no-install]\n  <name>: lower-case letters, digits and dashes, e.g. "lowrank"');
  process.exit(2);
}
const packagesDir = values.dir ?? join(root, 'packages');
const dir = join(packagesDir, name);
if (existsSync(dir)) {
  console.error(`packages/${name} already exists; pick another name`);
  process.exit(1);
}
const version = JSON.parse(readFileSync(join(root, 'packages', 'core', 'package.json'), 'utf8')).version;
const description = values.description ?? `A condense plugin: ${name}.`;
const camel = name.replace(/-([a-z0-9])/g, (_, c) => c.toUpperCase());

const files = {
  'package.json':
    JSON.stringify(
      {
        name: `@condense/${name}`,
        version: '0.1.0',
        description,
        license: 'MIT',
        type: 'module',
        exports: { '.': { types: './dist/index.d.ts', source: './src/index.ts', import: './dist/index.js' }, './package.json': './package.json' },
        main: './dist/index.js',
        types: './dist/index.d.ts',
        files: ['dist', 'README.md'],
        scripts: {
          build: 'tsup',
          test: `vitest run --root ../.. --dir packages/${name}`,
          typecheck: 'tsc --noEmit -p .',
          lint: 'biome lint --error-on-warnings .',
          'format-check': 'biome format .',
        },
        dependencies: { '@condense/core': version, '@condense/ir': version },
        condense: { plugins: true },
      },
      null,
      2,
    ) + '\n',
  'tsup.config.ts': `import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
});
`,
  'tsconfig.json': `{
  "extends": "../../tsconfig.base.json",
  "include": ["src", "tsup.config.ts"]
}
`,
  'src/index.ts': `import { definePlugin, Type, type Registry } from '@condense/core';
import { weightParams } from '@condense/ir';

/** ${description} */
export const ${camel} = definePlugin({
  name: '${name}.example',
  description: '${description.replace(/'/g, "\\'")}',
  schema: Type.Object(
    {
      scale: Type.Number({ exclusiveMinimum: 0, default: 1, description: 'factor applied to every kernel' }),
    },
    { additionalProperties: false },
  ),
  create: (options) => ({
    // What the stage needs, leaves on the graph, and destroys: the pipeline checks orders with it.
    contract: { provides: [], conflicts: ['encoded'] },
    apply(graph) {
      for (const { param } of weightParams(graph)) for (let i = 0; i < param.data.length; i++) param.data[i] *= options.scale;
      return { notes: [\`scaled kernels by \${options.scale}\`] };
    },
  }),
});

export const plugins = [${camel}];

export function register(registry: Registry): void {
  registry.register(${camel});
}
`,
  'src/index.test.ts': `import { describe, expect, it } from 'vitest';
import { createRegistry, parseRecipe, buildPipeline, testStageContext } from '@condense/core';
import { lenet300100 } from '@condense/ir';
import { ${camel}, register } from './index.js';

describe('${name}.example', () => {
  it('scales every kernel', async () => {
    const graph = lenet300100();
    const before = graph.params.get('fc1/kernel')!.data[0];
    const result = await ${camel}({ scale: 2 }).apply!(graph, testStageContext());
    expect(graph.params.get('fc1/kernel')!.data[0]).toBeCloseTo(before * 2);
    expect(result && result.notes).toEqual(['scaled kernels by 2']);
  });

  it('rejects a non-positive scale, naming the field', () => {
    expect(() => ${camel}({ scale: 0 })).toThrow(/scale/);
  });

  it('runs from a recipe', async () => {
    const registry = createRegistry();
    register(registry);
    const run = buildPipeline(parseRecipe('stages:\\n  - ${name}.example: { scale: 3 }'), registry);
    const result = await run.run(lenet300100());
    expect(result.stages[0].notes).toEqual(['scaled kernels by 3']);
  });
});
`,
  'README.md': `# @condense/${name}

${description}

\`\`\`ts
import { pipeline } from '@condense/core';
import { lenet300100 } from '@condense/ir';
import { ${camel} } from '@condense/${name}';

const result = await pipeline([${camel}({ scale: 0.5 })]).run(lenet300100());
console.log(result.snapshots.at(-1));
\`\`\`

In a recipe:

\`\`\`yaml
stages:
  - ${name}.example: { scale: 0.5 }
\`\`\`
`,
};

// Staged beside the target and moved in by one rename: a failure leaves no half-made package.
const tmp = await makeStage(dir);
for (const [file, text] of Object.entries(files)) {
  mkdirSync(dirname(join(tmp, file)), { recursive: true });
  writeFileSync(join(tmp, file), text);
}
await commitStage(tmp, dir);
console.log(`created packages/${name}: @condense/${name} with plugin '${name}.example'`);
if (!values['no-install']) {
  console.log('linking it into the workspace (npm install)...');
  execFileSync('npm', ['install', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
}
console.log(`next: npx nx run @condense/${name}:build && npx vitest run packages/${name}`);
