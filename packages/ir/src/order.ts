/**
 * Dependency order for any graph of named items (IR nodes, GraphDef nodes): each item after the
 * items it reads. Depth-first without recursion, since imported models can be deeper than the
 * call stack. No other import, so a browser loader can use it alone (`@condense/ir/order`).
 */

export interface OrderEdges<T> {
  key: (item: T) => string;
  /** The items `item` reads, resolved (the caller reports a name that resolves to nothing), without edges that do not count (a loop's back edge). */
  reads: (item: T) => Iterable<T>;
  /** Called when `again` is read while it is still on the path (oldest first): a cycle. Must throw. */
  cycle: (path: readonly T[], again: T) => never;
}

export function dependencyOrder<T>(items: readonly T[], edges: OrderEdges<T>): T[] {
  const { key, reads, cycle } = edges;
  const state = new Map<string, 1 | 2>();
  const out: T[] = [];
  for (const root of items) {
    if (state.has(key(root))) continue;
    const stack: { item: T; next: Iterator<T> }[] = [{ item: root, next: reads(root)[Symbol.iterator]() }];
    state.set(key(root), 1);
    while (stack.length) {
      const top = stack[stack.length - 1];
      const step = top.next.next();
      if (step.done) {
        state.set(key(top.item), 2);
        out.push(top.item);
        stack.pop();
        continue;
      }
      const dep = step.value;
      const s = state.get(key(dep));
      if (s === 2) continue;
      if (s === 1)
        cycle(
          stack.map((f) => f.item),
          dep,
        );
      state.set(key(dep), 1);
      stack.push({ item: dep, next: reads(dep)[Symbol.iterator]() });
    }
  }
  return out;
}
