import { getOp, weightParams, type Graph, type Node, type Param } from '@condense/ir';

export interface PrunableLayer {
  node: Node;
  param: Param;
}

export const DEFAULT_OPS = ['dense', 'conv2d', 'depthwiseConv2d'];

/** `*` matches any run of characters, `?` one; everything else literally. */
export function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

const isGlob = (s: string) => /[*?]/.test(s);

/** Layers whose weight param may be pruned: dense/conv kernels by default, never biases or batchNorm. */
export function prunableLayers(graph: Graph, o: { ops?: string[]; include?: string[]; exclude?: string[] } = {}): PrunableLayer[] {
  const ops = o.ops ?? DEFAULT_OPS;
  for (const op of ops) getOp(op);
  let layers = weightParams(graph)
    .filter(({ node }) => ops.includes(node.op))
    .map(({ node, param }) => ({ node, param }));
  if (o.include) {
    const keep = new Set(o.include.flatMap((pattern) => matchLayers(layers, pattern, 'include').map((l) => l.node.name)));
    layers = layers.filter((l) => keep.has(l.node.name));
  }
  if (o.exclude) {
    const drop = new Set(o.exclude.flatMap((pattern) => matchLayers(layers, pattern, 'exclude').map((l) => l.node.name)));
    layers = layers.filter((l) => !drop.has(l.node.name));
  }
  return layers;
}

/** Layers named by `pattern` (a name or a glob); a name or glob that matches nothing is an error naming it. */
export function matchLayers(layers: PrunableLayer[], pattern: string, field: string): PrunableLayer[] {
  if (!isGlob(pattern)) {
    const hit = layers.filter((l) => l.node.name === pattern || l.param.name === pattern);
    if (hit.length === 0) throw new Error(`${field}: no prunable layer named '${pattern}' (layers: ${layers.map((l) => l.node.name).join(', ')})`);
    return hit;
  }
  const re = globToRegExp(pattern);
  const hit = layers.filter((l) => re.test(l.node.name) || re.test(l.param.name));
  if (hit.length === 0) throw new Error(`${field}: the glob '${pattern}' matches no prunable layer (layers: ${layers.map((l) => l.node.name).join(', ')})`);
  return hit;
}

/** Per-layer targets from a map of names/globs; later entries override earlier ones. */
export function resolveLayerMap(layers: PrunableLayer[], map: Record<string, number>, field = 'layers'): Map<PrunableLayer, number> {
  const out = new Map<PrunableLayer, number>();
  for (const [pattern, value] of Object.entries(map)) {
    for (const l of matchLayers(layers, pattern, `${field}.${pattern}`)) out.set(l, value);
  }
  return out;
}
