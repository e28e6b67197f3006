import { resolve } from 'node:path';
import { UserError } from '../errors.js';
import { formatOf, loadAnyModel, modelHome, saveAnyModel } from '../models.js';
import type { Command } from './command.js';

export const convert: Command = {
  name: 'convert',
  summary: 'convert between model.json, the IR file (.cir) and the container (.cdz)',
  usage: `condense convert IN OUT [--force]

  IN, OUT   model.json or a directory (TF.js LayersModel), FILE.cir (condense IR, lossless,
            annotations included) or FILE.cdz (Deep Compression container)
  --force   replace an existing OUT

  Examples:
    condense convert model.cdz exported/        # a stock model.json any TF.js app loads
    condense convert exported/model.json m.cir`,
  options: { force: { type: 'boolean' } },
  async run({ positionals, values, print }) {
    const [input, output] = positionals;
    if (!input || !output) throw new UserError('convert needs IN and OUT');
    if (resolve(modelHome(input)) === resolve(modelHome(output)) && formatOf(input) === formatOf(output)) {
      throw new UserError(`OUT ${output} would overwrite IN ${input}`);
    }
    const { stat } = await import('node:fs/promises');
    const exists = await stat(formatOf(output) === 'tfjs' ? modelHome(output) : output).then(() => true, () => false);
    if (exists && !values.force && formatOf(output) !== 'tfjs') throw new UserError(`${output} exists; pass --force to replace it`);
    const graph = await loadAnyModel(input);
    const files = await saveAnyModel(graph, output);
    print(`wrote ${files.join(', ')}`);
  },
};
