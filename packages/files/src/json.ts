/**
 * Bounds on parsed JSON/YAML trees, for any runtime (no Node imports: the browser loader uses it).
 * `JSON.parse` accepts any nesting, but `structuredClone`, `JSON.stringify` and every recursive
 * walk after it overflow the stack on a deep one, and a YAML alias can make a tree contain itself.
 */

/** Deepest nesting accepted by default: real model topologies stay under 20 levels. */
export const MAX_JSON_DEPTH = 64;
/** Most values (objects, arrays and leaves) visited by default. */
export const MAX_JSON_NODES = 10_000_000;

export interface TreeLimits {
  maxDepth?: number;
  maxNodes?: number;
}

const at = (path: string, key: string | number) => (typeof key === 'number' ? `${path}[${key}]` : path ? `${path}.${key}` : key);

/**
 * Why `value` is not a plain bounded tree (nested deeper than `maxDepth`, contains itself, more
 * than `maxNodes` values), naming where; undefined when it is fine.
 */
export function treeProblem(value: unknown, limits: TreeLimits = {}): string | undefined {
  const maxDepth = limits.maxDepth ?? MAX_JSON_DEPTH;
  let budget = limits.maxNodes ?? MAX_JSON_NODES;
  const open = new Set<object>();
  // Recursion is safe: it never goes deeper than maxDepth.
  const walk = (v: unknown, depth: number, path: string): string | undefined => {
    if (--budget < 0) return `holds more than ${limits.maxNodes ?? MAX_JSON_NODES} values`;
    if (typeof v !== 'object' || v === null) return undefined;
    if (depth >= maxDepth) return `is nested more than ${maxDepth} levels deep (at ${path || 'the top'})`;
    if (open.has(v)) return `contains itself (at ${path || 'the top'})`;
    open.add(v);
    const entries: [string | number, unknown][] = Array.isArray(v) ? v.map((x, i) => [i, x]) : Object.entries(v);
    for (const [k, x] of entries) {
      const problem = walk(x, depth + 1, at(path, k));
      if (problem) return problem;
    }
    open.delete(v);
    return undefined;
  };
  return walk(value, 0, '');
}

/** JSON.parse, then `treeProblem`: the value, or a one-line reason it was refused. */
export function parseBoundedJson(text: string, limits: TreeLimits = {}): { value: unknown } | { problem: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { problem: `is not valid JSON (${(e as Error).message.split('\n')[0]})` };
  }
  const problem = treeProblem(value, limits);
  return problem ? { problem } : { value };
}
