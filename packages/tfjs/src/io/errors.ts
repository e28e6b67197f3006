/** A problem with a model file or with a graph that cannot be written as one. The message names the file, layer, weight or field. */
export class ModelIOError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelIOError';
  }
}

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Quote a value briefly for an error message. */
export function brief(v: unknown): string {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
