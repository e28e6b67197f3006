/** An error about a graph, naming the node (or param) at fault. */
export class GraphError extends Error {
  constructor(
    message: string,
    readonly node?: string,
  ) {
    super(node === undefined ? message : `node '${node}': ${message}`);
    this.name = 'GraphError';
  }
}

/** `[null, 28, 28, 1]`: a shape for an error message (Array.join would print null as nothing). */
export function formatShape(shape: readonly (number | null)[]): string {
  return `[${shape.map((d) => (d === null ? 'null' : String(d))).join(', ')}]`;
}
