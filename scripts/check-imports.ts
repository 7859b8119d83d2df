/**
 * The import graph's rules, checked by `npm run lint`:
 *  - no import cycles among our own modules (static, type-only and dynamic imports alike: a cycle through
 *    types is still two modules that cannot be read or moved one without the other);
 *  - no cycles among the library's folders either (server/lib/<folder>): a folder is a layer, and two layers
 *    that lean on each other are one layer in two places;
 *  - the library never imports the HTTP layer (routes, middleware, the app);
 *  - a route never imports another route: what two routes share lives in the library;
 *  - SQL lives in server/lib/db/ only: no other module imports drizzle-orm or better-sqlite3 or prepares a
 *    statement (migrations are SQL files, outside the graph).
 *
 * Imports are read with TypeScript's own pre-processor and resolved with its module resolution under the
 * repository's tsconfig, so a path alias or an extension rule means here what it means to the compiler.
 * Exits 1 and names every broken rule; `checkImports()` is the same check for a test to call.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export const CHECKED_ROOTS = ['server', 'map-ui/src', 'plugin/src', 'scripts'] as const;

export interface ImportProblem {
  rule:
    | 'cycle'
    | 'folder-cycle'
    | 'library-imports-http'
    | 'route-imports-route'
    | 'sql-outside-db'
    | 'stale-exception';
  /** Repository-relative paths: the cycle in order (first repeated at the end), or importer → imported. */
  files: string[];
  message: string;
}

function listSources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...listSources(path));
    else if (/\.(ts|tsx|mts)$/.test(name) && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

function compilerOptions(root: string): ts.CompilerOptions {
  const configPath = join(root, 'tsconfig.json');
  const read = ts.readConfigFile(configPath, ts.sys.readFile);
  if (read.error) throw new Error(ts.flattenDiagnosticMessageText(read.error.messageText, '\n'));
  return ts.parseJsonConfigFileContent(read.config, ts.sys, root).options;
}

interface SourceFile {
  /** Our own modules it imports, by absolute path. */
  imports: string[];
  /** The packages it imports ('drizzle-orm/sqlite-core' counts as 'drizzle-orm'). */
  packages: string[];
  text: string;
}

const packageOf = (specifier: string) =>
  specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0];

function readSources(root: string, roots: readonly string[]): Map<string, SourceFile> {
  const options = compilerOptions(root);
  const files = roots.filter((r) => existsSync(join(root, r))).flatMap((r) => listSources(join(root, r)));
  const known = new Set(files);
  const out = new Map<string, SourceFile>();
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const { importedFiles } = ts.preProcessFile(text, true, true);
    const imports = new Set<string>();
    const packages = new Set<string>();
    for (const { fileName } of importedFiles) {
      const resolved = ts.resolveModuleName(fileName, file, options, ts.sys).resolvedModule;
      if (!resolved || resolved.isExternalLibraryImport) {
        if (!fileName.startsWith('.') && !fileName.startsWith('node:')) packages.add(packageOf(fileName));
        continue;
      }
      const target = resolve(resolved.resolvedFileName);
      if (known.has(target)) imports.add(target);
    }
    out.set(file, { imports: [...imports].sort(), packages: [...packages].sort(), text });
  }
  return out;
}

/** Our own modules each file imports (node_modules left out), keyed and valued by absolute path. */
export function importGraph(root: string, roots: readonly string[] = CHECKED_ROOTS): Map<string, string[]> {
  return new Map([...readSources(root, roots)].map(([file, s]) => [file, s.imports]));
}

/** Strongly connected components with more than one module (or a module importing itself), by Tarjan. */
function cyclicComponents(graph: Map<string, string[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  // Iterative, so a deep import chain cannot overflow the call stack.
  for (const start of graph.keys()) {
    if (index.has(start)) continue;
    const work: Array<{ node: string; next: number }> = [{ node: start, next: 0 }];
    index.set(start, counter);
    low.set(start, counter++);
    stack.push(start);
    onStack.add(start);
    while (work.length > 0) {
      const top = work[work.length - 1];
      const edges = graph.get(top.node) ?? [];
      if (top.next < edges.length) {
        const to = edges[top.next++];
        if (!index.has(to)) {
          index.set(to, counter);
          low.set(to, counter++);
          stack.push(to);
          onStack.add(to);
          work.push({ node: to, next: 0 });
        } else if (onStack.has(to)) {
          low.set(top.node, Math.min(low.get(top.node)!, index.get(to)!));
        }
        continue;
      }
      work.pop();
      if (work.length > 0) {
        const parent = work[work.length - 1].node;
        low.set(parent, Math.min(low.get(parent)!, low.get(top.node)!));
      }
      if (low.get(top.node) === index.get(top.node)) {
        const component: string[] = [];
        let member: string;
        do {
          member = stack.pop()!;
          onStack.delete(member);
          component.push(member);
        } while (member !== top.node);
        if (component.length > 1 || edges.includes(top.node)) out.push(component);
      }
    }
  }
  return out;
}

/** One concrete cycle through a component, shortest from its first module (breadth-first), for the message. */
function cycleThrough(graph: Map<string, string[]>, component: string[]): string[] {
  const members = new Set(component);
  const start = [...component].sort()[0];
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const node = queue.shift()!;
    for (const to of graph.get(node) ?? []) {
      if (!members.has(to)) continue;
      if (to === start) {
        const path = [start];
        for (let n = node; n !== start; n = previous.get(n)!) path.splice(1, 0, n);
        return [...path, start];
      }
      if (!previous.has(to)) {
        previous.set(to, node);
        queue.push(to);
      }
    }
  }
  return [start, start];
}

const isUnder = (file: string, dir: string) => file.startsWith(`${dir}/`);

/** The library folder a module belongs to (`server/lib/scoring`), or null outside server/lib's folders. */
const libraryFolder = (file: string) => /^server\/lib\/[^/]+(?=\/)/.exec(file)?.[0] ?? null;

const SQL_PACKAGES = ['drizzle-orm', 'better-sqlite3', '@electric-sql/pglite', 'pg'];
/** A statement prepared or a transaction opened on a raw connection: SQL by another name. */
const RAW_SQL = /\.sqlite\s*\.\s*(?:prepare|transaction|exec)\s*\(|\.prepare\s*\(\s*['"`]/;

/**
 * Modules allowed to break the SQL rule for now, each with the reason. An exception that no longer breaks
 * it is reported too, so the list only ever shrinks.
 */
export const SQL_EXCEPTIONS: Record<string, string> = {};

export function checkImports(
  root: string,
  roots: readonly string[] = CHECKED_ROOTS,
  sqlExceptions: Record<string, string> = SQL_EXCEPTIONS,
): ImportProblem[] {
  const sources = readSources(root, roots);
  const graph = new Map([...sources].map(([file, s]) => [file, s.imports]));
  const rel = (f: string) => relative(root, f).split(sep).join('/');
  const problems: ImportProblem[] = [];
  for (const component of cyclicComponents(graph)) {
    const cycle = cycleThrough(graph, component).map(rel);
    problems.push({
      rule: 'cycle',
      files: cycle,
      message: `import cycle (${component.length} modules): ${cycle.join(' → ')}`,
    });
  }
  const http = (f: string) =>
    isUnder(f, 'server/routes') || isUnder(f, 'server/middleware') || f === 'server/app.ts';
  for (const [from, targets] of graph) {
    const a = rel(from);
    for (const to of targets.map(rel)) {
      if (isUnder(a, 'server/lib') && http(to)) {
        problems.push({
          rule: 'library-imports-http',
          files: [a, to],
          message: `${a} imports ${to}: the library must not depend on the HTTP layer; move what it needs into server/lib`,
        });
      }
      if (isUnder(a, 'server/routes') && isUnder(to, 'server/routes')) {
        problems.push({
          rule: 'route-imports-route',
          files: [a, to],
          message: `${a} imports ${to}: routes share code through server/lib, never through each other`,
        });
      }
    }
  }
  const folders = new Map<string, Set<string>>();
  const why = new Map<string, string>();
  for (const [from, targets] of graph) {
    const a = libraryFolder(rel(from));
    if (!a) continue;
    for (const to of targets) {
      const b = libraryFolder(rel(to));
      if (!b || b === a) continue;
      if (!folders.has(a)) folders.set(a, new Set());
      folders.get(a)!.add(b);
      if (!why.has(`${a}>${b}`)) why.set(`${a}>${b}`, `${rel(from)} → ${rel(to)}`);
    }
  }
  const folderGraph = new Map([...folders].map(([a, bs]) => [a, [...bs].sort()]));
  for (const component of cyclicComponents(folderGraph)) {
    const cycle = cycleThrough(folderGraph, component);
    const edges = cycle.slice(1).map((b, i) => why.get(`${cycle[i]}>${b}`));
    problems.push({
      rule: 'folder-cycle',
      files: cycle,
      message: `library folders import each other: ${cycle.join(' → ')} (${edges.join('; ')})`,
    });
  }

  for (const [file, source] of sources) {
    const path = rel(file);
    if (isUnder(path, 'server/lib/db')) continue;
    const reasons = [
      ...source.packages.filter((p) => SQL_PACKAGES.includes(p)).map((p) => `imports ${p}`),
      ...(RAW_SQL.test(source.text) ? ['prepares SQL on a raw connection'] : []),
    ];
    const excepted = path in sqlExceptions;
    if (reasons.length > 0 && !excepted) {
      problems.push({
        rule: 'sql-outside-db',
        files: [path],
        message: `${path} ${reasons.join(' and ')}: SQL lives in server/lib/db; add a repository function there`,
      });
    }
    if (reasons.length === 0 && excepted) {
      problems.push({
        rule: 'stale-exception',
        files: [path],
        message: `${path} holds no SQL any more: remove it from SQL_EXCEPTIONS in scripts/check-imports.ts`,
      });
    }
  }
  return problems;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
  const problems = checkImports(root);
  for (const p of problems) process.stderr.write(`check-imports: ${p.message}\n`);
  if (problems.length > 0) {
    process.stderr.write(`check-imports: ${problems.length} problem(s) in ${CHECKED_ROOTS.join(', ')}\n`);
    process.exit(1);
  }
  process.stdout.write(`check-imports: no cycles, no upward imports in ${CHECKED_ROOTS.join(', ')}\n`);
}
