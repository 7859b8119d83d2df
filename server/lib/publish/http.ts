/**
 * The one door for publishing's outbound HTTP: every call to MapSwipe's backend or the Tasking Manager
 * goes through `outbound`, to a URL built from the base URL the server's settings name (never one a
 * client sent). Network failures and timeouts become a PublishError that says which tool did not answer.
 */
import { PublishError } from './errors.ts';

export const DEFAULT_TIMEOUT_MS = 30_000;

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

/** `base` + `path`, the base's own path kept (a backend served under /mapswipe/ stays there). */
export function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
}

/** Checks a configured base URL once, so a typo is refused before anything is planned. */
export function checkBaseUrl(url: string | undefined, setting: string, tool: string): string {
  if (!url) {
    throw new PublishError(
      'not-configured',
      `no ${tool} address is configured`,
      `start the server (or the CLI) with --${setting} URL, or set it in the environment; see the settings table`,
    );
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new PublishError(
      'not-configured',
      `--${setting} "${url}" is not a URL`,
      'give e.g. https://backend.example.org',
    );
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new PublishError('not-configured', `--${setting} must be an http(s) URL, got ${parsed.protocol}`);
  }
  if (parsed.username || parsed.password) {
    throw new PublishError(
      'not-configured',
      `--${setting} holds a user name or password; give credentials when publishing, never in the address`,
    );
  }
  return url.replace(/\/+$/, '');
}

export async function outbound(
  fetchImpl: FetchLike,
  tool: string,
  url: string,
  init: RequestInit,
  timeoutMs = DEFAULT_TIMEOUT_MS,
): Promise<Response> {
  try {
    return await fetchImpl(url, { ...init, redirect: 'error', signal: AbortSignal.timeout(timeoutMs) });
  } catch (cause) {
    const reason =
      cause instanceof Error && cause.name === 'TimeoutError'
        ? `no answer within ${timeoutMs / 1000} s`
        : (cause as Error).message;
    throw new PublishError(
      'remote-unreachable',
      `${tool} at ${new URL(url).origin} could not be reached (${reason})`,
      'check the configured address and the network; what was made before this call is recorded, so publishing again resumes',
      { cause },
    );
  }
}
