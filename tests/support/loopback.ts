/** A fetch handler served on a free loopback port, for the stand-ins and the servers tests talk to. */
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';

export interface Loopback {
  url: string;
  close(): Promise<void>;
}

export async function serveOnLoopback(
  fetch: (req: Request) => Response | Promise<Response>,
): Promise<Loopback> {
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Each request as text (method, path, headers, body), for checking what left the code under test. */
export async function requestText(req: Request, path: string): Promise<string> {
  const headers: string[] = [];
  req.headers.forEach((v, k) => headers.push(`${k}: ${v}`));
  const body = req.method === 'GET' ? '' : await req.clone().text();
  return `${req.method} ${path}\n${headers.join('\n')}\n\n${body}`;
}
