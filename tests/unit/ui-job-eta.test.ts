import { describe, expect, it } from 'vitest';
import { etaText } from '../../map-ui/src/panels/header.ts';

describe('the job bar’s ETA', () => {
  it('reads as a person reads a wait, never more precise than a rate allows', () => {
    expect(etaText(0)).toBe('under a minute left');
    expect(etaText(59.9)).toBe('under a minute left');
    expect(etaText(60)).toBe('about 1 min left');
    expect(etaText(29 * 60 + 40)).toBe('about 30 min left');
    expect(etaText(3599)).toBe('about 1 h 0 min left');
    expect(etaText(3600)).toBe('about 1 h 0 min left');
    expect(etaText(5 * 3600 + 17 * 60 + 10)).toBe('about 5 h 17 min left');
  });
});
