import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { zipSync } from 'fflate';
import { beforeAll, describe, expect, it } from 'vitest';
import { collect, modelSpec } from '@condense/core';
import { GraphBuilder } from '@condense/ir';
import { loadDataPath } from './load.js';
import { parseNpy } from './npy.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'condense-files-'));
});

/** A w x h RGB image of one colour, as PNG or JPEG bytes. */
const image = (w: number, h: number, rgb: [number, number, number], format: 'png' | 'jpeg') =>
  sharp({ create: { width: w, height: h, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } })
    [format]()
    .toBuffer();

/** A .npy file's bytes (format 1.0). */
function npy(descr: string, shape: number[], data: ArrayBufferView): Uint8Array {
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  while ((10 + header.length + 1) % 64 !== 0) header += ' ';
  header += '\n';
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set([0x93, ...Buffer.from('NUMPY'), 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(Buffer.from(header), 10);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length);
  return out;
}

const model = (shape: number[]) => modelSpec(new GraphBuilder('m', shape).flatten().dense(3, { activation: 'softmax' }).build());

describe('image folders', () => {
  it('reads class subfolders as labels, resized and converted to the model input, in the input range', async () => {
    const root = join(dir, 'classes');
    for (const [k, cls] of ['cat', 'dog'].entries()) {
      await mkdir(join(root, cls), { recursive: true });
      await writeFile(join(root, cls, 'a.png'), await image(9, 7, [255 * k, 0, 0], 'png'));
      await writeFile(join(root, cls, 'b.jpg'), await image(5, 5, [255 * k, 0, 0], 'jpeg'));
    }
    const d = await loadDataPath(root, { example: [4, 4, 3], inputRange: '-1,1' });
    expect(d.classes).toEqual(['cat', 'dog']);
    expect(d.count).toBe(4);
    const b = (await collect(d.source, model([4, 4, 3])))!;
    expect(b.inputs[0].shape).toEqual([4, 4, 4, 3]);
    expect(Array.from(b.targets![0].values)).toEqual([0, 0, 1, 1]);
    const red = (i: number) => b.inputs[0].values[i * 48];
    expect(red(0)).toBeCloseTo(-1, 1);
    expect(red(2)).toBeCloseTo(1, 1);
    const grey = await loadDataPath(root, { example: [2, 2, 1], mean: [0.5], std: [0.25], limit: 1 });
    expect(grey.count).toBe(1);
    expect((await collect(grey.source, model([2, 2, 1])))!.inputs[0].values[0]).toBeCloseTo(-2, 1); // (0 - 0.5) / 0.25
  });

  it('reads a flat folder as unlabeled inputs', async () => {
    const flat = join(dir, 'flat');
    await mkdir(flat, { recursive: true });
    for (let i = 0; i < 3; i++) await writeFile(join(flat, `${i}.png`), await image(3, 3, [10, 20, 30], 'png'));
    const d = await loadDataPath(flat, { example: [3, 3, 3] });
    expect([d.count, d.classes, d.source.hasTargets]).toEqual([3, undefined, false]);
  });

  it('names the folder or the file: empty, mixed, an image that does not decode', async () => {
    const empty = join(dir, 'empty');
    await mkdir(empty, { recursive: true });
    await expect(loadDataPath(empty, { example: [2, 2, 3] })).rejects.toThrow(`${empty}: no images found`);
    const mixed = join(dir, 'mixed');
    await mkdir(join(mixed, 'a'), { recursive: true });
    await writeFile(join(mixed, 'x.png'), await image(2, 2, [0, 0, 0], 'png'));
    await expect(loadDataPath(mixed, { example: [2, 2, 3] })).rejects.toThrow(/mixed: has both images \(x.png\) and subfolders \(a\)/);
    const broken = join(dir, 'broken');
    await mkdir(broken, { recursive: true });
    await writeFile(join(broken, '0.png'), await image(2, 2, [0, 0, 0], 'png'));
    await writeFile(join(broken, '1.jpg'), Buffer.from('not a jpeg at all'));
    await expect(loadDataPath(broken, { example: [2, 2, 3] })).rejects.toThrow(new RegExp(`${join(broken, '1.jpg')} \\(image 1\\): cannot decode the image`));
    await expect(loadDataPath(join(dir, 'nope'))).rejects.toThrow(/nope: no such file or folder/);
  });
});

describe('arrays and tables', () => {
  it('parses .npy (float32, uint8, int64, big-endian) and names a bad file', () => {
    const f = parseNpy(npy('<f4', [2, 2], Float32Array.of(1, 2, 3, 4.5)), 'x.npy');
    expect([f.dtype, f.shape, Array.from(f.values)]).toEqual(['float32', [2, 2], [1, 2, 3, 4.5]]);
    expect(Array.from(parseNpy(npy('<i8', [2], BigInt64Array.of(7n, -1n)), 'y.npy').values)).toEqual([7, -1]);
    const be = new DataView(new ArrayBuffer(8));
    be.setFloat64(0, 2.5, false);
    expect(Array.from(parseNpy(npy('>f8', [1], be), 'b.npy').values)).toEqual([2.5]);
    expect(() => parseNpy(new Uint8Array(20), 'bad.npy')).toThrow(/^bad.npy: not a .npy file/);
    expect(() => parseNpy(npy('<c8', [1], new Float32Array(2)), 'c.npy')).toThrow(/c.npy: dtype c8 is not supported/);
  });

  it('reads .npz arrays x, y and weights, uint8 pixels mapped to floats', async () => {
    const path = join(dir, 'd.npz');
    await writeFile(
      path,
      zipSync({
        'x.npy': npy('|u1', [2, 2, 2, 1], Uint8Array.of(0, 255, 0, 255, 255, 255, 0, 0)),
        'y.npy': npy('<i8', [2], BigInt64Array.of(1n, 2n)),
        'weights.npy': npy('<f4', [2], Float32Array.of(1, 0.5)),
      }),
    );
    const d = await loadDataPath(path, { example: [2, 2, 1] });
    const b = (await collect(d.source, model([2, 2, 1])))!;
    expect(Array.from(b.inputs[0].values)).toEqual([0, 1, 0, 1, 1, 1, 0, 0]);
    expect(Array.from(b.targets![0].values)).toEqual([1, 2]);
    expect(Array.from(b.weights!)).toEqual([1, 0.5]);
  });

  it('reads a CSV with a header and a label column, and names a row of the wrong length', async () => {
    const path = join(dir, 'd.csv');
    await writeFile(path, 'a,b,c,label\n0.1,0.2,0.3,2\n0.4,0.5,0.6,0\n');
    const d = await loadDataPath(path, { example: [3] });
    const b = (await collect(d.source, model([3])))!;
    expect(Array.from(b.targets![0].values)).toEqual([2, 0]);
    expect(b.inputs[0].values[4]).toBeCloseTo(0.5);
    await writeFile(path, '1,2,3\n4,5\n');
    await expect(loadDataPath(path, { example: [3] })).rejects.toThrow(/d.csv: line 2 \(example 1\) has 2 values; the model input takes 3/);
    await writeFile(path, '1,2,3\n4,x,6\n');
    await expect(loadDataPath(path, { example: [3] })).rejects.toThrow(/d.csv: line 2 \(example 1\): column 2 is not a number \('x'\)/);
  });
});
