/** Servers on a free loopback port, for the stand-ins, the app under browser tests and what tests talk to. */
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';

export interface LoopbackServer {
  base: string;
  close(): Promise<void>;
}

/** Serves `fetch` on 127.0.0.1 at a free port. */
export async function serveOnLoopback(
  fetch: (req: Request) => Response | Promise<Response>,
): Promise<LoopbackServer> {
  const server: ServerType = serve({ fetch, hostname: '127.0.0.1', port: 0 });
  await new Promise<void>((r) => server.once('listening', () => r()));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** Each request as text (method, path, headers, body), for checking what left the code under test. */
export async function requestText(req: Request, path: string): Promise<string> {
  const headers: string[] = [];
  req.headers.forEach((v, k) => headers.push(`${k}: ${v}`));
  const body = req.method === 'GET' ? '' : await req.clone().text();
  return `${req.method} ${path}\n${headers.join('\n')}\n\n${body}`;
}
