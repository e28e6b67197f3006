import { cost, paramBytes, inferShapes } from '@condense/ir';
import { UserError } from '../errors.js';
import { loadAnyModel } from '../models.js';
import { fmtBytes } from '../progress.js';
import { textTable } from '../table.js';
import { maxElementsOption, type Command } from './command.js';

export const inspect: Command = {
  name: 'inspect',
  summary: 'per-layer op, shape, params, non-zeros, MACs and stored bytes of a model',
  usage: `condense inspect MODEL [--json] [--max-elements N]

  MODEL            model.json (or its directory), a .cir IR file or a .cdz container
  --json           print { layers: [...], totals: { params, nonzero, macs, bytes } }
  --max-elements N refuse a container declaring more than N weights (default 67108864)`,
  options: { json: { type: 'boolean' }, 'max-elements': { type: 'string' } },
  async run({ positionals, values, print }) {
    const path = positionals[0];
    if (!path) throw new UserError('inspect needs a MODEL path');
    const graph = await loadAnyModel(path, { maxElements: maxElementsOption(values) });
    const shapes = inferShapes(graph);
    const report = cost(graph);
    const layers = report.layers.map((l) => {
      const node = graph.nodes.find((n) => n.name === l.node)!;
      const encodings = Object.values(node.params).map((p) => paramBytes(graph.params.get(p)!));
      return {
        name: l.node,
        op: l.op,
        shape: shapes.get(l.node),
        params: l.params,
        nonzero: l.nonzero,
        macs: l.macs,
        effectiveMacs: l.effectiveMacs,
        bytes: l.bytes,
        encoding: [...new Set(encodings.map((e) => `${e.encoding}${e.sparse ? '+sparse' : ''}`))].join(','),
      };
    });
    const totals = { params: report.totals.params, nonzero: report.totals.nonzero, macs: report.totals.macs, effectiveMacs: report.totals.effectiveMacs, bytes: report.totals.bytes };
    if (values.json) {
      print(JSON.stringify({ model: graph.name, layers, totals }, null, 2));
      return;
    }
    const n = (x: number) => x.toLocaleString('en-US');
    const rows = layers.map((l) => [l.name, l.op, `[${(l.shape ?? []).map((d) => d ?? 'N').join(',')}]`, n(l.params), n(l.nonzero), n(l.macs), l.params ? fmtBytes(l.bytes) : '-', l.encoding || '-']);
    rows.push(['total', '', '', n(totals.params), n(totals.nonzero), n(totals.macs), fmtBytes(totals.bytes), '']);
    print(`${graph.name} (${path})\n`);
    print(textTable(['layer', 'op', 'shape', 'params', 'non-zero', 'MACs', 'bytes', 'encoding'], rows));
  },
};
