import { readdir } from 'node:fs/promises';
import { exists, isWithin, realPathOf } from '@condense/files';
import { UserError } from '../errors.js';
import { formatOf, loadAnyModel, modelHome, modelInput, saveAnyModel } from '../models.js';
import { maxElementsOption, type Command } from './command.js';

/** What OUT would replace: a TF.js model's folder (its model.json and shards), or the file. */
const outputTarget = (output: string) => (formatOf(output) === 'tfjs' ? modelHome(output) : output);

export const convert: Command = {
  name: 'convert',
  summary: 'convert between model.json, the IR file (.cir) and the container (.cdz)',
  usage: `condense convert IN OUT [--force] [--max-elements N]

  IN, OUT          model.json or a directory (TF.js LayersModel), FILE.cir (condense IR, lossless,
                   annotations included) or FILE.cdz (Deep Compression container); missing folders
                   of OUT are created
  --force          replace an existing OUT (never IN)
  --max-elements N refuse a container declaring more than N weights (default 67108864)

  Examples:
    condense convert model.cdz exported/        # a stock model.json any TF.js app loads
    condense convert exported/model.json m.cir`,
  options: { force: { type: 'boolean' }, 'max-elements': { type: 'string' } },
  async run({ positionals, values, print }) {
    const [input, output] = positionals;
    if (!input || !output) throw new UserError('convert needs IN and OUT');
    const target = outputTarget(output);
    const [outReal, inReal] = await Promise.all([realPathOf(target), realPathOf(modelInput(input))]);
    // A TF.js OUT folder gets a new model.json and shards (other files stay); a file OUT is replaced whole.
    const replacesInput = formatOf(output) === 'tfjs' ? outReal === inReal : isWithin(outReal, inReal);
    if (replacesInput) throw new UserError(`OUT ${output} would replace IN ${input}`);
    const taken = formatOf(output) === 'tfjs' ? (await readdir(target).catch(() => [])).length > 0 : await exists(target);
    if (taken && !values.force) throw new UserError(`${output} exists; pass --force to replace it`);
    const graph = await loadAnyModel(input, { maxElements: maxElementsOption(values) });
    const files = await saveAnyModel(graph, output);
    print(`wrote ${files.join(', ')}`);
  },
};
