/**
 * The GraphDef JSON that tfjs-converter writes into a graph model's model.json (protobuf JSON:
 * bytes base64, int64 as decimal strings, Const tensors without their values, which live in the
 * weights manifest), and what import keeps in `graph.meta.graphModel` to write it back.
 */
import type { JsonObject } from '../io/errors.js';

/** One attr value: exactly one of these fields (protobuf's oneof). */
export interface AttrValue {
  s?: string;
  i?: string | number;
  f?: number | string;
  b?: boolean;
  type?: string;
  shape?: TensorShape;
  tensor?: { dtype?: string; tensorShape?: TensorShape; [k: string]: unknown };
  func?: { name: string; attr?: Record<string, AttrValue> };
  list?: {
    s?: string[];
    i?: (string | number)[];
    f?: (number | string)[];
    b?: boolean[];
    type?: string[];
    shape?: TensorShape[];
    func?: unknown[];
    tensor?: unknown[];
  };
  placeholder?: string;
}

export interface TensorShape {
  dim?: { size?: string | number; name?: string }[];
  unknownRank?: boolean;
}

export interface NodeDef {
  name: string;
  op: string;
  input?: string[];
  device?: string;
  attr?: Record<string, AttrValue>;
  [k: string]: unknown;
}

export interface FunctionDef {
  signature: { name: string; inputArg?: JsonObject[]; outputArg?: JsonObject[]; [k: string]: unknown };
  nodeDef?: NodeDef[];
  ret?: Record<string, string>;
  [k: string]: unknown;
}

export interface GraphDefJson {
  node: NodeDef[];
  library?: { function?: FunctionDef[]; [k: string]: unknown };
  versions?: JsonObject;
  [k: string]: unknown;
}

export interface TensorInfo {
  name: string;
  dtype?: string;
  tensorShape?: TensorShape;
}

export interface Signature {
  inputs?: Record<string, TensorInfo>;
  outputs?: Record<string, TensorInfo>;
  [k: string]: unknown;
}

/** Manifest dtypes graph models use. */
export type WeightDtype = 'float32' | 'int32' | 'bool' | 'string';

/**
 * What import keeps in `graph.meta.graphModel`: the parts of model.json the IR does not model,
 * so that export writes the same file back.
 */
export interface GraphModelMeta {
  /** The model.json path (or 'model artifacts'). */
  source: string;
  /** Top-level model.json fields other than modelTopology and weightsManifest, as read (format, generatedBy, convertedBy, signature, userDefinedMetadata, ...). */
  fields: JsonObject;
  /** model.json's top-level key order. */
  keyOrder: string[];
  /** modelTopology fields other than `node` (library, versions), as read. */
  topology: JsonObject;
  /** Node names in their GraphDef order. */
  order: string[];
  /** Const NodeDefs by name (the IR holds their values as params or constant nodes). */
  consts: Record<string, NodeDef>;
  /** Weight names in manifest order. */
  weights: string[];
}
