import type { ParseArgsConfig } from 'node:util';
import { UsageError, UserError } from '../errors.js';

export interface CommandContext {
  positionals: string[];
  values: Record<string, string | boolean | string[] | undefined>;
  print(text: string): void;
}

export interface Command {
  name: string;
  summary: string;
  usage: string;
  options: NonNullable<ParseArgsConfig['options']>;
  run(ctx: CommandContext): Promise<void>;
}

/** A non-negative integer option, or undefined when absent; errors name the option. */
export function intOption(values: CommandContext['values'], name: string): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new UserError(`--${name} must be a non-negative integer, got '${String(raw)}'`);
  return n;
}

/** `--max-elements N`: the largest container (in declared weights) to decode; a usage error when not a positive integer. */
export function maxElementsOption(values: CommandContext['values']): number | undefined {
  const raw = values['max-elements'];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`--max-elements must be a positive integer, got '${String(raw)}'`);
  return n;
}
