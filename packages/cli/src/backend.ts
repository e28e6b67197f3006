import { describeBackend, selectBackend } from '@condense/tfjs';
import { UserError } from './errors.js';

const NAMES = ['node', 'wasm', 'cpu'] as const;

/** Pick the TF.js backend (option, then CONDENSE_BACKEND, then the best available) and describe it. */
export async function useBackend(name?: string): Promise<string> {
  if (name !== undefined && !(NAMES as readonly string[]).includes(name)) throw new UserError(`--backend must be one of ${NAMES.join(', ')}, got '${name}'`);
  await selectBackend(name as (typeof NAMES)[number] | undefined);
  return describeBackend();
}
