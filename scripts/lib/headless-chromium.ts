/**
 * Debian's chromium as the browser tests and benchmarks drive it (playwright-core cannot download one here).
 * Without the background-networking flags Chromium keeps trying hosts this closed network refuses.
 */
import { existsSync } from 'node:fs';

export const CHROMIUM_PATH = '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** Throws with the install step when the browser is missing, so a browser test never passes by skipping. */
export function requireChromium(): string {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `${CHROMIUM_PATH} is missing: run \`bash scripts/setup.sh --browser\` (installs Debian's chromium)`,
    );
  }
  return CHROMIUM_PATH;
}
