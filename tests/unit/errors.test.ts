import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../server/lib/paths.ts';

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : name.endsWith('.ts') ? [path] : [];
  });
}

describe('the error base', () => {
  it('is what every error class of the server extends, directly or through another one', () => {
    const classes = new Map<string, { parent: string; file: string }>();
    for (const file of sources(join(repoRoot, 'server'))) {
      for (const m of readFileSync(file, 'utf8').matchAll(/class (\w+) extends (\w+)/g)) {
        if (m[1].endsWith('Error')) classes.set(m[1], { parent: m[2], file: relative(repoRoot, file) });
      }
    }
    expect(classes.size).toBeGreaterThan(20);
    const reachesBase = (name: string, seen = new Set<string>()): boolean => {
      if (name === 'TilelensError') return true;
      const c = classes.get(name);
      if (!c || seen.has(name)) return false;
      seen.add(name);
      return reachesBase(c.parent, seen);
    };
    const strays = [...classes].filter(([name]) => !reachesBase(name)).map(([n, c]) => `${n} (${c.file})`);
    expect(strays).toEqual([]);
  });
});
