import { readFile } from 'node:fs/promises';
import type { ArrayTensor } from '@condense/core';

export interface CsvOptions {
  /** Values per example the model input takes: a row of that many is unlabeled, one more ends in its label. */
  inputSize: number;
  /** Read at most this many rows. */
  limit?: number;
}

export interface CsvData {
  inputs: ArrayTensor;
  /** The last column, when rows have one value more than the input: integers become class indices. */
  targets?: ArrayTensor;
  /** Whether the first line was a header (not numbers). */
  header: boolean;
}

/**
 * A CSV of numbers: one example per row, `inputSize` values, optionally followed by a target. A
 * first line that is not numbers is a header. Errors name the file and the line.
 */
export async function readCsv(path: string, o: CsvOptions): Promise<CsvData> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new Error(`${path}: cannot read the file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const lines = text.split(/\r?\n/);
  const rows: number[][] = [];
  let header = false;
  let width: number | undefined;
  for (const [i, line] of lines.entries()) {
    if (line.trim() === '') continue;
    const cells = line.split(',').map((c) => c.trim());
    const values = cells.map(Number);
    if (values.some((v, k) => !Number.isFinite(v) || cells[k] === '')) {
      if (rows.length === 0 && !header) {
        header = true;
        continue;
      }
      const bad = values.findIndex((v, k) => !Number.isFinite(v) || cells[k] === '');
      throw new Error(`${path}: line ${i + 1} (example ${rows.length}): column ${bad + 1} is not a number ('${cells[bad]}')`);
    }
    width ??= values.length;
    if (values.length !== o.inputSize && values.length !== o.inputSize + 1) {
      throw new Error(
        `${path}: line ${i + 1} (example ${rows.length}) has ${values.length} values; the model input takes ${o.inputSize} (plus one for a label)`,
      );
    }
    if (values.length !== width) throw new Error(`${path}: line ${i + 1} (example ${rows.length}) has ${values.length} values, earlier rows ${width}`);
    rows.push(values);
    if (o.limit !== undefined && rows.length >= o.limit) break;
  }
  if (rows.length === 0) throw new Error(`${path}: no rows of numbers`);
  const n = rows.length;
  const labelled = width === o.inputSize + 1;
  const inputs = new Float32Array(n * o.inputSize);
  rows.forEach((r, i) => inputs.set(r.slice(0, o.inputSize), i * o.inputSize));
  if (!labelled) return { inputs: { values: inputs, shape: [n, o.inputSize], dtype: 'float32' }, header };
  const last = rows.map((r) => r[o.inputSize]);
  const integers = last.every((v) => Number.isInteger(v) && v >= 0);
  const targets: ArrayTensor = integers
    ? { values: Int32Array.from(last), shape: [n], dtype: 'int32' }
    : { values: Float32Array.from(last), shape: [n, 1], dtype: 'float32' };
  return { inputs: { values: inputs, shape: [n, o.inputSize], dtype: 'float32' }, targets, header };
}
