/** FusedBatchNorm (V2, V3) in inference mode: batchNorm. */
import { attrBool, attrFloat, setFloat } from '../attrs.js';
import { registerGraphExporter, registerGraphImporter } from '../mapping.js';
import { needsParam, nodeFor, notNhwc } from './common.js';

const OPS = ['FusedBatchNorm', 'FusedBatchNormV2', 'FusedBatchNormV3'];
const ROLES = ['gamma', 'beta', 'movingMean', 'movingVariance'] as const;

registerGraphImporter(OPS, (ctx) => {
  const { node, inputs } = ctx;
  if (attrBool(node, 'is_training')) return 'it normalizes with batch statistics (is_training)';
  const reason = notNhwc(node) ?? ROLES.map((r, i) => needsParam(inputs[i + 1], r)).find((r) => r);
  if (reason) return reason;
  if (inputs.length !== 5) return `${inputs.length} inputs`;
  // TF's default epsilon is 1e-4.
  const epsilon = attrFloat(node, 'epsilon') ?? 1e-4;
  return [{ op: 'batchNorm', inputs: [0], attrs: { epsilon }, params: { gamma: 1, beta: 2, movingMean: 3, movingVariance: 4 } }];
});

registerGraphExporter(['batchNorm'], (node, ctx) => {
  const missing = ROLES.find((r) => node.params[r] === undefined);
  if (missing) ctx.fail(node, `a batchNorm without '${missing}' has no FusedBatchNorm form`);
  const t = nodeFor(node, ctx, ['FusedBatchNormV3', ...OPS]);
  t.input = [ctx.tensor(node.inputs[0]), ...ROLES.map((r) => ctx.param(node, r))];
  setFloat(t, 'epsilon', Math.fround((node.attrs.epsilon as number | undefined) ?? 1e-3));
  return [t];
});
