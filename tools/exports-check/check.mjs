// What a package.json promises against what `npm pack` puts in the tarball. publint and attw
// check the same map from their sides; this is the part they skip: every entry point of every
// condition is in the tarball, and every `files` entry packs something.

/** Conditions that only this workspace sets (vitest, tsconfig): their targets live in the repo, not the tarball. */
export const DEV_CONDITIONS = ['source'];

/** Every target in an exports map, with the conditions that lead to it. */
export function exportTargets(exports, conditions = []) {
  if (typeof exports === 'string') return [{ target: exports, conditions }];
  if (Array.isArray(exports)) return exports.flatMap((e) => exportTargets(e, conditions));
  if (exports && typeof exports === 'object') {
    return Object.entries(exports).flatMap(([key, value]) => exportTargets(value, key.startsWith('.') ? conditions : [...conditions, key]));
  }
  return [];
}

const normal = (path) => path.replace(/^\.\//, '');

/** A glob of package.json (`*`, `**`, a directory) as a test on packed paths. */
function matcher(pattern) {
  const p = normal(pattern).replace(/\/$/, '');
  if (!p.includes('*')) return (file) => file === p || file.startsWith(`${p}/`);
  const re = p
    .split(/(\*\*\/|\*\*|\*)/)
    .map((part) => (part === '**/' ? '(?:.*/)?' : part === '**' ? '.*' : part === '*' ? '[^/]*' : part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return (file) => new RegExp(`^${re}(?:/.*)?$`).test(file);
}

/**
 * One line per broken promise of `pkg`: an entry point (exports by condition, main, types,
 * typesVersions, bin) that `packed` does not contain, a `files` entry that packs nothing, a dev
 * condition whose source file `existsInRepo` does not find.
 */
export function packageProblems(pkg, packed, existsInRepo = () => true) {
  const files = new Set(packed.map(normal));
  const has = (target) => {
    const match = matcher(target);
    return [...files].some(match);
  };
  const problems = [];
  for (const { target, conditions } of exportTargets(pkg.exports ?? {})) {
    const where = `exports ${conditions.length ? `[${conditions.join(' > ')}] ` : ''}-> ${target}`;
    if (conditions.some((c) => DEV_CONDITIONS.includes(c))) {
      if (!existsInRepo(target)) problems.push(`${where}: no such file in the repository`);
    } else if (!has(target)) problems.push(`${where}: not in the packed tarball`);
  }
  for (const field of ['main', 'types', 'module']) {
    if (typeof pkg[field] === 'string' && !has(pkg[field])) problems.push(`${field} -> ${pkg[field]}: not in the packed tarball`);
  }
  for (const [range, map] of Object.entries(pkg.typesVersions ?? {})) {
    for (const [from, targets] of Object.entries(map)) {
      for (const t of targets) if (!has(t)) problems.push(`typesVersions[${range}][${from}] -> ${t}: not in the packed tarball`);
    }
  }
  const bins = typeof pkg.bin === 'string' ? { [pkg.name]: pkg.bin } : (pkg.bin ?? {});
  for (const [name, target] of Object.entries(bins)) if (!has(target)) problems.push(`bin ${name} -> ${target}: not in the packed tarball`);
  for (const entry of pkg.files ?? []) if (!entry.startsWith('!') && !has(entry)) problems.push(`files: '${entry}' packs nothing`);
  return problems;
}
