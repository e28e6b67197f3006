import { parseArgs } from 'node:util';
import { compress } from './commands/compress.js';
import { convert } from './commands/convert.js';
import { demo } from './commands/demo.js';
import { inspect } from './commands/inspect.js';
import { report } from './commands/report.js';
import { schema } from './commands/schema.js';
import { worker } from './commands/worker.js';
import type { Command } from './commands/command.js';
import { UsageError } from './errors.js';

export const COMMANDS: Command[] = [demo, compress, inspect, convert, schema, report, worker];

const HELP = `condense: model compression for TensorFlow.js

usage: condense <command> [options]      condense <command> --help

commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(10)} ${c.summary}`).join('\n')}

global options: --verbose (stack traces on errors), --help`;

/** Run the CLI; returns the exit status: 0 success, 1 user error, 2 usage error. */
export async function main(
  argv: string[],
  out: (s: string) => void = (s) => process.stdout.write(`${s}\n`),
  err: (s: string) => void = (s) => process.stderr.write(`${s}\n`),
): Promise<number> {
  const [name, ...rest] = argv;
  const verbose = rest.includes('--verbose');
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    out(HELP);
    return name ? 0 : 2;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    err(`condense: unknown command '${name}'\n\n${HELP}`);
    return 2;
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      allowPositionals: true,
      options: { ...command.options, help: { type: 'boolean', short: 'h' }, verbose: { type: 'boolean' } },
    });
  } catch (e) {
    err(`condense ${name}: ${(e as Error).message}\n\n${command.usage}`);
    return 2;
  }
  if (parsed.values.help) {
    out(command.usage);
    return 0;
  }
  try {
    await command.run({ positionals: parsed.positionals, values: parsed.values as Record<string, string | boolean | undefined>, print: out });
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      err(`condense ${name}: ${e.message}\n\n${command.usage}`);
      return 2;
    }
    // A built-in JS error (TypeError, RangeError, ...) is a bug of condense, not a problem with the input: say so.
    err(`condense ${name}: ${isInternal(e) ? `internal error (${(e as Error).name}), please report it: ` : ''}${oneLine(e)}`);
    if (verbose && e instanceof Error && e.stack) err(e.stack);
    return 1;
  }
}

const BUILT_IN_ERRORS = ['TypeError', 'RangeError', 'ReferenceError', 'SyntaxError', 'EvalError', 'URIError', 'AggregateError'];
const isInternal = (e: unknown): boolean => !(e instanceof Error) || BUILT_IN_ERRORS.includes(e.constructor.name);

function oneLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .join('; ');
}
