import { renderReportFromJson } from '@condense/core';
import { UserError } from '../errors.js';
import type { Command } from './command.js';

export const report: Command = {
  name: 'report',
  summary: 're-render report.html from a report.json',
  usage: `condense report DIR

  DIR   a directory holding report.json (as written by compress or demo), or the file itself`,
  options: {},
  async run({ positionals, print }) {
    if (!positionals[0]) throw new UserError('report needs a DIR');
    print(`wrote ${await renderReportFromJson(positionals[0])}`);
  },
};
