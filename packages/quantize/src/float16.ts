import { bytesPerValue, fitsStored, setFloat16, storedEncoding, type Graph, type Param } from '@condense/ir';
import { QuantizeError } from './errors.js';
import { errorStats } from './metrics.js';
import { candidates, PARAM_KINDS, selectParams, type ParamKind, type Select } from './select.js';

export interface Float16Report {
  param: string;
  layer?: string;
  op?: string;
  maxAbsError: number;
  mse: number;
  relativeError: number;
  /** Why the param was left as it was (its input already stores it in 2 bytes per value or fewer); errors are then 0. */
  skipped?: string;
}

/** Magnitudes from here on round to Infinity in float16. */
const FLOAT16_OVERFLOW = 65520;

/**
 * Round one param to float16 and mark it for float16 storage (`setFloat16`). Refuses params
 * that already carry a codebook or affine quantization, and values that would overflow to Infinity.
 */
export function float16Param(p: Param): Float16Report {
  if (p.codebook || p.quant) {
    throw new QuantizeError(
      `toFloat16: param '${p.name}' is already ${p.codebook ? 'weight-shared (codebook)' : 'affine-quantized'}; float16 would break that encoding`,
    );
  }
  for (let i = 0; i < p.data.length; i++) {
    if (Math.abs(p.data[i]) >= FLOAT16_OVERFLOW)
      throw new QuantizeError(`toFloat16: param '${p.name}' has ${p.data[i]} at index ${i}, beyond the float16 range (|x| < 65520)`);
  }
  const before = p.data.slice();
  setFloat16(p);
  const err = errorStats(before, p.data, p.mask);
  return { param: p.name, maxAbsError: err.maxAbsError, mse: err.mse, relativeError: err.relativeError };
}

/**
 * Why float16 would not make the param smaller: its input file stores it (and its data still
 * fits) in 2 bytes per value or fewer (uint8, uint16, float16). Undefined when float16 would.
 */
export function compactAlready(p: Param): string | undefined {
  const e = storedEncoding(p);
  if (e.dtype === 'float32' || bytesPerValue(e) > 2 || !fitsStored(p)) return undefined;
  return `the input stores it as ${e.dtype} (${bytesPerValue(e)} byte${bytesPerValue(e) > 1 ? 's' : ''} per value) already`;
}

/**
 * float16 storage for the selected params (`include`, `exclude`): by default every param of the graph (weights,
 * biases, normalization), like the TF.js converter's float16 option; params that already carry
 * a codebook or affine quantization are skipped unless selected explicitly (then it is an error),
 * and so are params their input file already stores as compactly (reported with `skipped`).
 */
export function toFloat16(graph: Graph, include?: Select, o: { kinds?: readonly ParamKind[]; exclude?: readonly string[] } = {}): Float16Report[] {
  const kinds = o.kinds ?? PARAM_KINDS;
  const all = candidates(graph, kinds);
  const chosen = selectParams(graph, { include, exclude: o.exclude, kinds, caller: 'toFloat16' }, all);
  const uses = include === undefined ? chosen.filter((u) => !u.param.codebook && !u.param.quant) : chosen;
  return uses.map((use) => {
    const skipped = include === undefined ? compactAlready(use.param) : undefined;
    const report = skipped ? { param: use.param.name, maxAbsError: 0, mse: 0, relativeError: 0, skipped } : float16Param(use.param);
    return { ...report, layer: use.node.name, op: use.node.op };
  });
}
