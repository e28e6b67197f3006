import { mkdir, mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '@condense/ir';
import { saveModel } from '@condense/tfjs';
import { main } from './main.js';

async function run(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(
    [...args, '--backend', 'cpu', '--quiet'],
    (s) => out.push(s),
    (s) => err.push(s),
  );
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** A small colour CNN, saved as model.json; images of two classes (red / blue) in class folders, and flat. */
async function setup(shape = [12, 12, 3]) {
  const dir = await mkdtemp(join(tmpdir(), 'condense-cli-data-'));
  const g = new GraphBuilder('cnn', shape, 1)
    .conv2d(4, 3, { name: 'conv', activation: 'relu' })
    .flatten()
    .dense(2, { name: 'out', activation: 'softmax' })
    .build();
  await saveModel(g, join(dir, 'model'));
  for (const [k, cls] of ['blue', 'red'].entries()) {
    await mkdir(join(dir, 'images', cls), { recursive: true });
    await mkdir(join(dir, 'flat'), { recursive: true });
    for (let i = 0; i < 6; i++) {
      const png = await sharp({ create: { width: 20 + i, height: 16, channels: 3, background: k ? { r: 250, g: 10 * i, b: 0 } : { r: 0, g: 10 * i, b: 250 } } })
        .png()
        .toBuffer();
      await writeFile(join(dir, 'images', cls, `${i}.png`), png);
      await writeFile(join(dir, 'flat', `${cls}-${i}.png`), png);
    }
  }
  await writeFile(
    join(dir, 'prune.yaml'),
    'name: prune-finetune\nstages:\n  - prune.magnitude: { sparsity: 0.5 }\n  - finetune: { epochs: 1, batchSize: 4 }\n',
  );
  await writeFile(
    join(dir, 'data-free.yaml'),
    'name: data-free\nstages:\n  - prune.magnitude: { sparsity: 0.5 }\n  - quantize.kmeans: { bits: 4 }\n  - codec.deepCompression: {}\n',
  );
  return dir;
}

describe('condense compress --data', () => {
  it('fine-tunes on a folder of images (a subfolder per class) and on a flat folder (label-free), reporting agreement', async () => {
    const dir = await setup();
    const r = await run([
      'compress',
      '--recipe',
      join(dir, 'prune.yaml'),
      '--model',
      join(dir, 'model'),
      '--out',
      join(dir, 'out'),
      '--data',
      join(dir, 'images'),
      '--test',
      join(dir, 'images'),
      '--batch-size',
      '4',
    ]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain('12 images 12x12x3, 2 classes');
    const report = JSON.parse(await readFile(join(dir, 'out', 'report.json'), 'utf8'));
    expect(JSON.stringify(report)).toContain('agreement');
    const flat = await run([
      'compress',
      '--recipe',
      join(dir, 'prune.yaml'),
      '--model',
      join(dir, 'model'),
      '--out',
      join(dir, 'out2'),
      '--data',
      join(dir, 'flat'),
      '--input-range=-1,1',
    ]);
    expect(flat.code).toBe(0);
    expect(flat.out).toContain('12 images 12x12x3, unlabeled');
  });

  it('runs a data-free recipe with no --data on a model Fashion-MNIST does not fit', async () => {
    const dir = await setup([32, 32, 3]);
    const r = await run(['compress', '--recipe', join(dir, 'data-free.yaml'), '--model', join(dir, 'model'), '--out', join(dir, 'out')]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain('no data (data-free recipe)');
    expect(await readdir(join(dir, 'out'))).toContain('model.cdz');
    const needs = await run(['compress', '--recipe', join(dir, 'prune.yaml'), '--model', join(dir, 'model'), '--out', join(dir, 'out3')]);
    expect(needs.code).toBe(1);
    expect(needs.err).toMatch(/stage 2 \(finetune\) needs training data, and the pipeline was given none/);
  });

  it('names the file and the example of bad input before any work, and writes nothing', async () => {
    const dir = await setup();
    await writeFile(join(dir, 'flat', 'broken.png'), 'not a png');
    const broken = await run([
      'compress',
      '--recipe',
      join(dir, 'prune.yaml'),
      '--model',
      join(dir, 'model'),
      '--out',
      join(dir, 'o1'),
      '--data',
      join(dir, 'flat'),
    ]);
    expect(broken.code).toBe(1);
    expect(broken.err).toMatch(/broken.png \(image 6\): cannot decode the image/);
    await writeFile(join(dir, 'rows.csv'), `${Array(432).fill(0.5).join(',')},1\n${Array(432).fill(0.5).join(',')},7\n`);
    const labels = await run([
      'compress',
      '--recipe',
      join(dir, 'prune.yaml'),
      '--model',
      join(dir, 'model'),
      '--out',
      join(dir, 'o2'),
      '--data',
      join(dir, 'rows.csv'),
    ]);
    expect(labels.code).toBe(1);
    expect(labels.err).toMatch(/rows.csv: label 7 at example 1 is out of range for 2 classes/);
    expect(labels.err.split('\n')).toHaveLength(1);
    const dirs = await readdir(dir);
    expect(dirs).not.toContain('o1');
    expect(dirs).not.toContain('o2');
  });
});
