/** Identity: identity; Reshape / Squeeze to [batch, features]: flatten; other constant Reshapes: reshape; ConcatV2 on the last axis: concat; DepthToSpace: depthToSpace. */
import { attrInt, attrInts, setInt } from '../attrs.js';
import { registerGraphExporter, registerGraphImporter } from '../mapping.js';
import { nodeFor, notNhwc } from './common.js';

registerGraphImporter(['Identity'], () => [{ op: 'identity', inputs: [0] }]);

registerGraphExporter(['identity'], (node, ctx) => {
  const t = nodeFor(node, ctx, ['Identity']);
  t.input = [ctx.tensor(node.inputs[0])];
  return [t];
});

const product = (dims: (number | null)[]): number | null => (dims.some((d) => d === null) ? null : (dims as number[]).reduce((a, b) => a * b, 1));

registerGraphImporter(['Reshape'], (ctx) => {
  const [x, shape] = ctx.inputs;
  const target = shape?.values?.values as number[] | undefined;
  if (!target) return 'its target shape is computed at run time';
  if (!x.shape || x.shape.length < 2) return 'its input shape is unknown';
  const batchKept = target[0] === -1 || (ctx.batch !== undefined && target[0] === ctx.batch);
  if (!batchKept) return `target [${target.join(', ')}] does not keep the batch dimension`;
  const features = product(x.shape.slice(1));
  if (target.length === 2 && x.shape.length > 2 && features !== null && target[1] === features) return [{ op: 'flatten', inputs: [0] }];
  return [{ op: 'reshape', inputs: [0], attrs: { targetShape: target.slice(1) } }];
});

/** Squeeze of the 1x1 spatial axes of [N, 1, 1, C] (after a Mean with keep_dims): a flatten. */
registerGraphImporter(['Squeeze'], (ctx) => {
  const dims = (attrInts(ctx.node, 'squeeze_dims') ?? []).map((d) => (d < 0 ? d + 4 : d)).sort();
  const s = ctx.inputs[0].shape;
  if (s?.length !== 4 || s[1] !== 1 || s[2] !== 1 || dims.join() !== '1,2') return 'it does not squeeze the 1x1 spatial axes of an NHWC tensor';
  return [{ op: 'flatten', inputs: [0] }];
});

registerGraphExporter(['flatten', 'reshape'], (node, ctx) => {
  const t = nodeFor(node, ctx, ['Reshape', 'Squeeze']);
  if (t.op === 'Squeeze') {
    t.input = [ctx.tensor(node.inputs[0])];
    return [t];
  }
  const out = ctx.shapes.get(node.name)!;
  const name = t.input?.[1] ?? `${node.name}/shape`;
  // The leading entry stays as it was (-1, or the fixed batch).
  const first = (ctx.original(node, name)?.values[0] as number | undefined) ?? -1;
  const rest = node.op === 'reshape' ? (node.attrs.targetShape as number[]) : out.slice(1);
  t.input = [ctx.tensor(node.inputs[0]), ctx.values(name, { dtype: 'int32', shape: [rest.length + 1], values: [first, ...(rest as number[])] })];
  return [t];
});

registerGraphImporter(['ConcatV2'], (ctx) => {
  const values = ctx.inputs.slice(0, -1);
  const axis = ctx.inputs.at(-1)?.values?.values[0] as number | undefined;
  const rank = values[0]?.shape?.length;
  if (axis === undefined || rank === undefined) return 'its axis or input shapes are unknown';
  if (axis !== -1 && axis !== rank - 1) return `it concatenates along axis ${axis}, not the last`;
  if (values.some((v) => v.param || v.values)) return 'a constant operand';
  return [{ op: 'concat', inputs: values.map((_, i) => i), attrs: { axis: -1 } }];
});

registerGraphExporter(['concat'], (node, ctx) => {
  const t = nodeFor(node, ctx, ['ConcatV2']);
  const axisName = t.input?.at(-1) ?? `${node.name}/axis`;
  const axis = ctx.original(node, axisName) ?? { dtype: 'int32' as const, shape: [], values: [-1] };
  t.input = [...node.inputs.map((v) => ctx.tensor(v)), ctx.values(axisName, axis)];
  if (attrInt(t, 'N') !== node.inputs.length) setInt(t, 'N', node.inputs.length);
  return [t];
});

registerGraphImporter(
  ['DepthToSpace'],
  (ctx) => notNhwc(ctx.node) ?? [{ op: 'depthToSpace', inputs: [0], attrs: { blockSize: attrInt(ctx.node, 'block_size') } }],
);

registerGraphExporter(['depthToSpace'], (node, ctx) => {
  const t = nodeFor(node, ctx, ['DepthToSpace']);
  t.input = [ctx.tensor(node.inputs[0])];
  setInt(t, 'block_size', node.attrs.blockSize as number);
  return [t];
});
