import { cost, paramBytes, inferShapes } from '@condense/ir';
import { graphNodeInfo, opaqueOpCounts } from '@condense/tfjs';
import { UserError } from '../errors.js';
import { loadAnyModel } from '../models.js';
import { fmtBytes } from '../progress.js';
import { textTable } from '../table.js';
import { maxElementsOption, type Command } from './command.js';

export const inspect: Command = {
  name: 'inspect',
  summary: 'per-layer op, shape, params, non-zeros, MACs and stored bytes of a model',
  usage: `condense inspect MODEL [--json] [--max-elements N]

  MODEL            model.json (or its directory; a layers or a graph model), a .cir IR file or a .cdz container
  --json           print { layers: [...], totals: { params, nonzero, macs, bytes }, opaque: { <TF op>: count } }
  --max-elements N refuse a container declaring more than N weights (default 67108864)

  A graph model's nodes that the IR does not model are opaque: TF.js runs them, the op column
  names their TensorFlow op with '(tf)', and a shape the importer could not infer reads '?'.
  Bytes include the int32/bool/string constants a node stores.`,
  options: { json: { type: 'boolean' }, 'max-elements': { type: 'string' } },
  async run({ positionals, values, print }) {
    const path = positionals[0];
    if (!path) throw new UserError('inspect needs a MODEL path');
    const graph = await loadAnyModel(path, { maxElements: maxElementsOption(values) });
    const shapes = inferShapes(graph);
    const report = cost(graph);
    const layers = report.layers.map((l) => {
      const node = graph.nodes.find((n) => n.name === l.node)!;
      const info = graphNodeInfo(node);
      const encodings = Object.values(node.params).map((p) => {
        const b = paramBytes(graph.params.get(p)!);
        return `${b.encoding}${b.sparse ? '+sparse' : ''}`;
      });
      return {
        name: l.node,
        op: info.op,
        ...(info.opaque ? { opaque: true } : {}),
        shape: info.shapeKnown ? shapes.get(l.node) : null,
        params: l.params,
        nonzero: l.nonzero,
        macs: l.macs,
        effectiveMacs: l.effectiveMacs,
        bytes: l.bytes + info.valueBytes,
        encoding: [...new Set([...encodings, ...info.valueDtypes])].join(','),
      };
    });
    const bytes = layers.reduce((a, l) => a + l.bytes, 0);
    const totals = {
      params: report.totals.params,
      nonzero: report.totals.nonzero,
      macs: report.totals.macs,
      effectiveMacs: report.totals.effectiveMacs,
      bytes,
    };
    const opaque = opaqueOpCounts(graph);
    if (values.json) {
      print(JSON.stringify({ model: graph.name, layers, totals, opaque: Object.fromEntries(opaque) }, null, 2));
      return;
    }
    const n = (x: number) => x.toLocaleString('en-US');
    const shape = (s: (number | null)[] | null | undefined) => (s ? `[${s.map((d) => d ?? 'N').join(',')}]` : '?');
    const rows = layers.map((l) => [
      l.name,
      l.opaque ? `${l.op} (tf)` : l.op,
      shape(l.shape),
      n(l.params),
      n(l.nonzero),
      n(l.macs),
      l.bytes ? fmtBytes(l.bytes) : '-',
      l.encoding || '-',
    ]);
    rows.push(['total', '', '', n(totals.params), n(totals.nonzero), n(totals.macs), fmtBytes(totals.bytes), '']);
    print(`${graph.name} (${path})\n`);
    print(textTable(['layer', 'op', 'shape', 'params', 'non-zero', 'MACs', 'bytes', 'encoding'], rows));
    if (opaque.length) {
      const count = opaque.reduce((a, [, k]) => a + k, 0);
      print(
        `\nopaque (run by TF.js, not modelled by the IR; channel groups stop at them): ${count} node${count === 1 ? '' : 's'}, ${opaque.map(([op, k]) => `${op} x${k}`).join(', ')}`,
      );
    }
  },
};
