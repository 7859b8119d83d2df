/**
 * ULIDs (https://github.com/ulid/spec): 48 bits of milliseconds then 80 random bits, in Crockford base32.
 * MapSwipe's backend takes one as the `clientId` of every resource a client creates, so a client that
 * lost a response can find what it made. tilelens makes each once, stores it before the first call, and
 * sends the same one again on every retry.
 */
import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

export function ulid(now: number = Date.now(), random: Uint8Array = randomBytes(10)): string {
  if (!Number.isInteger(now) || now < 0 || now >= 2 ** 48)
    throw new RangeError(`ulid time ${now} is out of range`);
  if (random.length !== 10) throw new RangeError('ulid needs 10 random bytes');
  let time = '';
  let t = now;
  for (let i = 0; i < 10; i++) {
    time = ALPHABET[t % 32] + time;
    t = Math.floor(t / 32);
  }
  // 80 bits = 16 base32 digits, read 5 bits at a time from the front.
  let bits = 0;
  let value = 0;
  let rand = '';
  for (const byte of random) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      rand += ALPHABET[(value >> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  return time + rand;
}

export const ULID_PATTERN = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/;

export function isUlid(text: string): boolean {
  return ULID_PATTERN.test(text);
}
