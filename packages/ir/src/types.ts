/** A value's shape. `null` marks the batch dimension. NHWC for images. */
export type Shape = (number | null)[];

/** Shared weights: every (unmasked) element is `centroids[indices[i]]`. */
export interface Codebook {
  centroids: Float32Array;
  /** One centroid index per element, row-major like the param's data. Masked elements keep index 0 and are ignored. */
  indices: Uint16Array;
  bits: number;
}

/** Affine (uniform) quantization: value = scale * (q - zeroPoint), q an integer in [qmin, qmax]. */
export interface AffineQuant {
  bits: number;
  signed: boolean;
  /** One entry per tensor, one per slice along `axis`, or (with `group`) one per row group and slice. */
  scale: Float32Array;
  zeroPoint: Int32Array;
  axis?: number;
  /**
   * Group-wise scales (GPTQ's groups; needs `axis`). The param's other axes, flattened row-major,
   * are its rows (dense [in, out] on axis 1: `in`; conv HWIO on axis 3: kh * kw * in); runs of
   * `size` consecutive rows share one scale per channel. scale and zeroPoint then hold
   * ceil(rows / size) x channels entries, group-major: the slot of the element at row r, channel
   * ch is floor(r / size) * channels + ch. See `quantSlots`.
   */
  group?: QuantGroup;
}

/** Rows per scale group of a group-wise `AffineQuant`. */
export interface QuantGroup {
  size: number;
}

/**
 * A param as its source file stored it: the file's own description of the encoding (for TF.js, the
 * weights-manifest entry) and the stored bytes, exactly as read. Export writes them back unchanged
 * while the param's shape and data still equal their decoding, so that a model read and written
 * with no stage in between keeps every weight's encoding and bytes. Nothing edits it; a stage that
 * changes `data` makes it stale, which export detects.
 */
export interface StoredForm {
  /** Plain JSON. */
  entry: Record<string, unknown>;
  bytes: Uint8Array;
}

/** A named weight tensor and the compression state it carries. */
export interface Param {
  name: string;
  shape: number[];
  /** Row-major float32 values. Always the values the model computes with (masked, shared or dequantized). */
  data: Float32Array;
  /** 1 = kept, 0 = pruned. Pruned elements of `data` are exactly 0. */
  mask?: Uint8Array;
  codebook?: Codebook;
  quant?: AffineQuant;
  /** Store (and export) as float16. */
  float16?: boolean;
  /** Training does not move this param. */
  frozen?: boolean;
  /** How the source file stored it (see `StoredForm`). */
  stored?: StoredForm;
}

export type Attrs = Record<string, unknown>;

/** One operation. Its output value is named like the node. */
export interface Node {
  name: string;
  op: string;
  inputs: string[];
  attrs: Attrs;
  /** Param role (`kernel`, `bias`, `gamma`, ...) to param name. */
  params: Record<string, string>;
}

export interface Graph {
  name: string;
  /** Nodes in topological order. */
  nodes: Node[];
  params: Map<string, Param>;
  /** Names of the `input` nodes, in model input order. */
  inputs: string[];
  /** Names of the nodes whose values are the model outputs. */
  outputs: string[];
  /** Free-form metadata carried through (de)serialization, e.g. the source format. */
  meta: Record<string, unknown>;
}
