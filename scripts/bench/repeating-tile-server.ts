/**
 * The cluster benchmark's imagery host, in a process of its own so that serving tiles takes no time from the
 * scoring it measures (in process or in workers alike): a tile server on loopback that answers /18/x/y with the
 * region's tile at x, y modulo its extent, read from a PMTiles archive. Prints `{"port":N}` once it listens;
 * stops on SIGTERM.
 *
 *   npx tsx scripts/bench/repeating-tile-server.ts ARCHIVE MIN_X MIN_Y WIDTH HEIGHT
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { openPMTilesSource } from '../../server/lib/imagery/pmtiles-source.ts';
import { sendTile } from '../../tests/fixtures/tile-http.ts';

export interface TileRegion {
  minX: number;
  minY: number;
  width: number;
  height: number;
}

async function serve(archive: string, r: TileRegion): Promise<void> {
  const source = await openPMTilesSource({ kind: 'pmtiles', path: archive });
  const mod = (v: number, m: number) => ((v % m) + m) % m;
  const server = createServer((req, res) => {
    const m = /^\/18\/(\d+)\/(\d+)$/.exec(req.url ?? '');
    if (!m) return void res.writeHead(404).end();
    const x = r.minX + mod(Number(m[1]) - r.minX, r.width);
    const y = r.minY + mod(Number(m[2]) - r.minY, r.height);
    sendTile(res, source.getTile(18, x, y));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
  await new Promise<void>((resolve) => process.once('SIGTERM', () => resolve()));
  await new Promise((resolve) => server.close(resolve));
  await source.close();
}

/** Starts the server as its own process; resolves with its port once it listens. */
export async function startRepeatingTileServer(
  archive: string,
  r: TileRegion,
): Promise<{ port: number; stop(): Promise<void> }> {
  const child: ChildProcess = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      fileURLToPath(import.meta.url),
      archive,
      ...[r.minX, r.minY, r.width, r.height].map(String),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', (line) => resolve(JSON.parse(line).port));
    void exited.then(() => reject(new Error('the tile server exited before it listened')));
  });
  return {
    port,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [archive, ...numbers] = process.argv.slice(2);
  const [minX, minY, width, height] = numbers.map(Number);
  serve(archive, { minX, minY, width, height }).catch((err: Error) => {
    console.error(`tile server: ${err.stack ?? err.message}`);
    process.exit(1);
  });
}
