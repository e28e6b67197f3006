import { Value } from '@sinclair/typebox/value';
import type { Static, TSchema } from '@sinclair/typebox';

/** A user error about options or recipes: the message names where (stage, plugin, field). */
export class OptionsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OptionsError';
  }
}

/** Apply schema defaults, then check; errors name `where` and the field path. */
export function parseOptions<S extends TSchema>(schema: S, input: unknown, where: string): Static<S> {
  const value = Value.Default(schema, structuredClone(input ?? {}));
  const errors = [...Value.Errors(schema, value)];
  if (errors.length > 0) {
    const lines = errors.slice(0, 5).map((e) => `${fieldName(e.path)}: ${e.message}${e.value === undefined ? '' : ` (got ${JSON.stringify(e.value)})`}`);
    throw new OptionsError(`${where}: invalid options\n  ${lines.join('\n  ')}`);
  }
  return value as Static<S>;
}

function fieldName(path: string): string {
  return path === '' ? '(options)' : path.slice(1).replaceAll('/', '.');
}
