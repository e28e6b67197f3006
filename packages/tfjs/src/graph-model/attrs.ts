/**
 * NodeDef attrs as protobuf JSON writes them (strings base64, int64 as decimal strings, floats
 * possibly "NaN"/"Infinity"), read into plain values and written back in the same form. Writers
 * keep the template's own encoding when the value is unchanged, so that an untouched node is
 * written byte for byte as it was read.
 */
import type { AttrValue, NodeDef, TensorShape } from './types.js';

const utf8 = new TextDecoder();
const utf8Out = new TextEncoder();

export function fromBase64(s: string): string {
  const bin = atob(s);
  return utf8.decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
}

export function toBase64(s: string): string {
  let bin = '';
  for (const b of utf8Out.encode(s)) bin += String.fromCharCode(b);
  return btoa(bin);
}

const num = (v: string | number): number => (typeof v === 'number' ? v : Number(v));

/** A node's attr, or undefined. */
export const attrOf = (node: NodeDef, key: string): AttrValue | undefined => node.attr?.[key];

export function attrString(node: NodeDef, key: string): string | undefined {
  const s = attrOf(node, key)?.s;
  return s === undefined ? undefined : fromBase64(s);
}

export function attrStrings(node: NodeDef, key: string): string[] | undefined {
  const a = attrOf(node, key);
  if (!a) return undefined;
  return (a.list?.s ?? []).map(fromBase64);
}

export function attrInt(node: NodeDef, key: string): number | undefined {
  const i = attrOf(node, key)?.i;
  return i === undefined ? undefined : num(i);
}

export function attrInts(node: NodeDef, key: string): number[] | undefined {
  const a = attrOf(node, key);
  if (!a) return undefined;
  return (a.list?.i ?? []).map(num);
}

export function attrFloat(node: NodeDef, key: string): number | undefined {
  const f = attrOf(node, key)?.f;
  return f === undefined ? undefined : num(f);
}

export function attrBool(node: NodeDef, key: string): boolean | undefined {
  return attrOf(node, key)?.b;
}

export function attrType(node: NodeDef, key: string): string | undefined {
  return attrOf(node, key)?.type;
}

/** A shape's dims (-1 for unknown), or undefined for an unknown rank. */
export function shapeDims(shape: TensorShape | undefined): number[] | undefined {
  if (!shape || shape.unknownRank) return undefined;
  return (shape.dim ?? []).map((d) => num(d.size ?? -1));
}

export function toTensorShape(dims: readonly number[]): TensorShape {
  return dims.length === 0 ? {} : { dim: dims.map((d) => ({ size: String(d) })) };
}

const sameList = (a: readonly unknown[] | undefined, b: readonly unknown[]): boolean =>
  a !== undefined && a.length === b.length && a.every((x, i) => x === b[i]);

/** Set attr `key` of `node` (in place) unless the node already holds exactly this value. */
export function setInts(node: NodeDef, key: string, values: readonly number[]): void {
  if (sameList(attrInts(node, key), values)) return;
  (node.attr ??= {})[key] = { list: { i: values.map(String) } };
}

export function setInt(node: NodeDef, key: string, value: number): void {
  if (attrInt(node, key) === value) return;
  (node.attr ??= {})[key] = { i: String(value) };
}

export function setString(node: NodeDef, key: string, value: string): void {
  if (attrString(node, key) === value) return;
  (node.attr ??= {})[key] = { s: toBase64(value) };
}

export function setStrings(node: NodeDef, key: string, values: readonly string[]): void {
  if (sameList(attrStrings(node, key), values)) return;
  (node.attr ??= {})[key] = { list: { s: values.map(toBase64) } };
}

export function setFloat(node: NodeDef, key: string, value: number): void {
  if (Object.is(attrFloat(node, key), value)) return;
  (node.attr ??= {})[key] = { f: Number.isFinite(value) ? value : String(value) };
}

export function setBool(node: NodeDef, key: string, value: boolean): void {
  if (attrBool(node, key) === value) return;
  (node.attr ??= {})[key] = { b: value };
}

export function setType(node: NodeDef, key: string, value: string): void {
  if (attrType(node, key) === value) return;
  (node.attr ??= {})[key] = { type: value };
}

/** The TF dtype enum name of a manifest dtype. */
export const TF_DTYPE = { float32: 'DT_FLOAT', int32: 'DT_INT32', bool: 'DT_BOOL', string: 'DT_STRING' } as const;
