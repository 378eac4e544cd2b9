// Reading an npm lockfile (v3) as npm lays it out: which installed copies of a
// package there are, and which of them an app would install without one of
// its dependencies (Node's resolution: a package's own node_modules first,
// then each parent's).

export interface LockEntry {
  version?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

export interface Lockfile {
  packages: Record<string, LockEntry>;
}

/** The install paths of every copy of `name` (e.g. node_modules/a/node_modules/name). */
export function packagesFor(lock: Lockfile, name: string): string[] {
  return Object.keys(lock.packages).filter(
    (path) => path === `node_modules/${name}` || path.endsWith(`/node_modules/${name}`),
  );
}

/** Where `name` resolves from the package at `from` ('' = the app), as Node would find it. */
function resolveFrom(lock: Lockfile, from: string, name: string): string | undefined {
  let dir = from;
  for (;;) {
    const candidate = dir === '' ? `node_modules/${name}` : `${dir}/node_modules/${name}`;
    if (lock.packages[candidate]) return candidate;
    if (dir === '') return undefined;
    const up = dir.lastIndexOf('/node_modules/');
    dir = up === -1 ? '' : dir.slice(0, up);
  }
}

/** The install paths the app reaches through its dependencies when `excluded` (a direct one) is left out. */
export function reachableWithout(lock: Lockfile, excluded: string): Set<string> {
  const seen = new Set<string>();
  const queue: string[] = [''];
  while (queue.length > 0) {
    const path = queue.shift()!;
    const entry = lock.packages[path] ?? {};
    const names = [
      ...Object.keys(entry.dependencies ?? {}),
      ...Object.keys(entry.optionalDependencies ?? {}),
      ...Object.keys(entry.peerDependencies ?? {}).filter(
        (n) => !entry.peerDependenciesMeta?.[n]?.optional,
      ),
    ];
    for (const name of names) {
      if (path === '' && name === excluded) continue;
      const target = resolveFrom(lock, path, name);
      if (target && !seen.has(target)) {
        seen.add(target);
        queue.push(target);
      }
    }
  }
  return seen;
}
