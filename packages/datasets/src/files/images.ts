import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { memorySource, type DataSource } from '@condense/core';
import { pixelMap, type Preprocess } from './preprocess.js';

/** File endings read as images. */
export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.webp', '.gif', '.tif', '.tiff', '.avif'];

export interface ImageFolderOptions extends Preprocess {
  /** Per-example [height, width, channels] the model takes: images are resized (stretched) and converted to it. Default: the first image's. */
  example?: readonly number[];
  /** Read at most this many images (the first ones, in sorted order; per class folder in turn). */
  limit?: number;
}

export interface ImageFolder {
  source: DataSource;
  /** Class names in label order (the subfolder names, sorted), when the folder has subfolders. */
  classes?: string[];
  count: number;
  /** Per-example shape of the decoded images. */
  example: [number, number, number];
}

const isImage = (name: string) => IMAGE_EXTENSIONS.includes(extname(name).toLowerCase());

/** Entries of a folder, sorted, dot files skipped; errors name it. */
async function entries(dir: string) {
  try {
    return (await readdir(dir, { withFileTypes: true }))
      .filter((e) => !e.name.startsWith('.'))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  } catch (e) {
    throw new Error(`${dir}: cannot read the folder (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

type Sharp = typeof import('sharp').default;

async function loadSharp(): Promise<Sharp> {
  try {
    return (await import('sharp')).default;
  } catch (e) {
    throw new Error(
      `reading images needs the 'sharp' package, which failed to load (${(e as Error).message.split('\n')[0]}); reinstall with optional dependencies`,
    );
  }
}

/**
 * A folder of images as data: one subfolder per class gives labels (the sorted subfolder names
 * are classes 0, 1, ...); a flat folder gives unlabeled inputs. Every image is decoded (with
 * sharp) before training starts, resized to the model's [height, width] and converted to its
 * channels, and kept as bytes; batches are mapped to floats by `inputRange` and mean / std.
 * Errors name the folder or the file (and its index).
 */
export async function readImageFolder(dir: string, o: ImageFolderOptions = {}): Promise<ImageFolder> {
  const top = await entries(dir);
  const folders = top.filter((e) => e.isDirectory());
  const loose = top.filter((e) => e.isFile() && isImage(e.name));
  if (folders.length > 0 && loose.length > 0)
    throw new Error(`${dir}: has both images (${loose[0].name}) and subfolders (${folders[0].name}); use one subfolder per class, or a flat folder of images`);
  const classes = folders.map((f) => f.name);
  const files: { path: string; label?: number }[] = [];
  if (folders.length > 0) {
    for (const [label, f] of folders.entries()) {
      const inside = (await entries(join(dir, f.name))).filter((e) => e.isFile() && isImage(e.name));
      for (const e of inside) files.push({ path: join(dir, f.name, e.name), label });
    }
  } else {
    for (const e of loose) files.push({ path: join(dir, e.name) });
  }
  if (files.length === 0) throw new Error(`${dir}: no images found (${IMAGE_EXTENSIONS.join(', ')}), directly or in class subfolders`);
  const chosen = files.slice(0, o.limit ?? files.length);
  const sharp = await loadSharp();
  const example = (o.example ? [...o.example] : await firstShape(sharp, chosen[0].path)) as [number, number, number];
  if (example.length !== 3 || example.some((d) => !(Number.isInteger(d) && d > 0)) || ![1, 3, 4].includes(example[2])) {
    throw new Error(`${dir}: images need a model input [height, width, channels] with 1, 3 or 4 channels, the model takes [${example.join(', ')}]`);
  }
  const [h, w, c] = example;
  const size = h * w * c;
  const pixels = new Uint8Array(chosen.length * size);
  for (const [i, f] of chosen.entries()) pixels.set(await decode(sharp, f.path, example, i), i * size);
  const labels = chosen[0].label === undefined ? undefined : Int32Array.from(chosen, (f) => f.label as number);
  const toFloat = pixelMap(o, c, dir);
  const n = chosen.length;
  const source = memorySource(
    { inputs: [{ values: pixels, shape: [n, h, w, c], dtype: 'float32' }], ...(labels ? { targets: [{ values: labels, shape: [n], dtype: 'int32' }] } : {}) },
    `${dir}`,
    (chunk) => ({
      ...chunk,
      inputs: (chunk.inputs as { values: Uint8Array; shape: number[]; dtype: 'float32' }[]).map((t) => ({ ...t, values: toFloat(t.values) })),
    }),
  );
  return { source, ...(labels ? { classes } : {}), count: n, example };
}

async function firstShape(sharp: Sharp, path: string): Promise<number[]> {
  const m = await sharp(await readImage(path, 0))
    .metadata()
    .catch((e: Error) => {
      throw new Error(`${path}: cannot decode the image (${e.message})`);
    });
  return [m.height ?? 0, m.width ?? 0, (m.channels ?? 3) >= 3 ? 3 : 1];
}

async function readImage(path: string, index: number): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (e) {
    throw new Error(`${path} (image ${index}): cannot read the file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/** One image as [h, w, c] bytes: decoded, stretched to h x w, converted to c channels. */
async function decode(sharp: Sharp, path: string, [h, w, c]: number[], index: number): Promise<Uint8Array> {
  const bytes = await readImage(path, index);
  try {
    let img = sharp(bytes, { failOn: 'error' }).resize(w, h, { fit: 'fill' });
    img = c === 1 ? img.greyscale() : c === 3 ? img.removeAlpha().toColourspace('srgb') : img.ensureAlpha();
    const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== c || data.length !== h * w * c) throw new Error(`decoded to ${info.width}x${info.height}x${info.channels}`);
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  } catch (e) {
    throw new Error(`${path} (image ${index}): cannot decode the image (${(e as Error).message.split('\n')[0]})`);
  }
}

/** Whether `path` is a folder. */
export async function isFolder(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isDirectory() ?? false;
}

export const stem = (path: string) => basename(path, extname(path));
