/**
 * Which local files a client may point imagery at: files under the data folder or under a folder the
 * server's `imagery-dirs` setting names, and nothing else. Without this rule the manager token reads any
 * image the server process can read and serves its pixels to anyone, and a cache folder could be any
 * folder the process can write to (or `/proc`, where making folders never returns).
 *
 * Symbolic links are resolved before the check, so a link in the data folder that points outside counts
 * as outside. Every refusal says the same words whether the file is missing, outside, of the wrong type
 * or a link elsewhere: the answer must not tell a client which files exist on the server.
 */
import { realpath, stat } from 'node:fs/promises';
import { basename, delimiter, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { ImageryError, type ImagerySpec } from './source.ts';

export class LocalPathError extends ImageryError {
  override name = 'LocalPathError';
}

/** The folders local imagery may come from: the data folder first (relative paths resolve there), then the setting's. */
export function imageryRoots(dataDir: string, setting: string | undefined): string[] {
  const extra = (setting ?? '')
    .split(delimiter)
    .map((d) => d.trim())
    .filter((d) => d !== '');
  return [resolve(dataDir), ...extra.map((d) => resolve(d))];
}

/** `real` lies strictly inside one of `roots` (both already free of symbolic links). */
function inside(real: string, roots: string[]): boolean {
  return roots.some((root) => {
    const rel = relative(root, real);
    return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
  });
}

async function realRoots(roots: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const r of roots) {
    const real = await realpath(r).catch(() => undefined);
    if (real) out.push(real);
  }
  return out;
}

type Want = 'file' | 'folder' | 'file-or-folder';

function notUsable(field: string, given: string): LocalPathError {
  return new LocalPathError(
    `spec.${field} "${given}" is not usable: give a path relative to the data folder (or under a folder the server's imagery-dirs setting names) of a readable ${field === 'cacheDir' ? 'folder' : 'file'}`,
  );
}

/** The real path of an existing file or folder under the roots, or the one "not usable" error. */
async function placeExisting(given: string, field: string, want: Want, roots: string[]): Promise<string> {
  const real = await realpath(resolve(roots[0], given)).catch(() => undefined);
  const st = real ? await stat(real).catch(() => undefined) : undefined;
  const kindOk =
    st !== undefined &&
    (want === 'file' ? st.isFile() : want === 'folder' ? st.isDirectory() : st.isFile() || st.isDirectory());
  // A FIFO or device under the data folder is refused too: opening one can block forever.
  if (!real || !kindOk || !inside(real, await realRoots(roots))) throw notUsable(field, given);
  return real;
}

/**
 * Where a cache folder that may not exist yet would land: the deepest existing folder on its way is
 * resolved (links included) and the rest appended, so a link anywhere on the path is followed first.
 */
async function placeFolderToBe(given: string, field: string, roots: string[]): Promise<string> {
  let existing = resolve(roots[0], given);
  const rest: string[] = [];
  for (;;) {
    const st = await stat(existing).catch(() => undefined);
    if (st) {
      if (!st.isDirectory()) throw notUsable(field, given);
      break;
    }
    const parent = dirname(existing);
    if (parent === existing) throw notUsable(field, given);
    rest.unshift(basename(existing));
    existing = parent;
  }
  const real = await realpath(existing).catch(() => undefined);
  if (!real) throw notUsable(field, given);
  const target = rest.length > 0 ? join(real, ...rest) : real;
  if (!inside(target, await realRoots(roots))) throw notUsable(field, given);
  return target;
}

/** Checks and resolves every local path of a client's imagery spec against `roots` (see `imageryRoots`). */
export async function placeImagerySpec(spec: ImagerySpec, roots: string[]): Promise<{ spec: ImagerySpec }> {
  if (spec.kind === 'xyz') {
    if (!spec.cacheDir) return { spec };
    return { spec: { ...spec, cacheDir: await placeFolderToBe(spec.cacheDir, 'cacheDir', roots) } };
  }
  const want: Want =
    spec.kind === 'pmtiles' ? 'file' : spec.kind === 'geotiff-folder' ? 'folder' : 'file-or-folder';
  return { spec: { ...spec, path: await placeExisting(spec.path, 'path', want, roots) } };
}
