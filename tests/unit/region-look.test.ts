/** The stored region look in the words the panel, the API and the exports use. */
import { describe, expect, it } from 'vitest';
import { describeRegionLook } from '../../server/lib/scoring/region-look.ts';

const medians = { original: 2.4, dehazed: 1.1, sharpened: 2.2 };

describe('describeRegionLook', () => {
  it('says a restored look in one plain sentence, with the evidence apart', () => {
    const d = describeRegionLook({ look: 'dehazed', medians, sampled: 64, jobId: 3 })!;
    expect(d.sentence).toBe("Imagery read dehazed: it looked hazier than the model's training imagery.");
    expect(d.detail).toContain(
      '64 tiles sampled; median image novelty 2.40 as served, 1.10 dehazed, 2.20 sharpened',
    );
    expect(d.detail).toContain('the map shows them as served');
    expect(d).toMatchObject({ look: 'dehazed', sampled: 64, jobId: 3 });
    expect(describeRegionLook({ look: 'sharpened', medians, sampled: 64, jobId: 3 })!.sentence).toMatch(
      /^Imagery read sharpened: it looked coarser/,
    );
  });

  it('tells a region read as served from a run that cannot judge the look, and nothing before a job', () => {
    expect(describeRegionLook({ look: 'original', medians, sampled: 64, jobId: 1 })!.sentence).toMatch(
      /^Imagery read as served: it looked no hazier or coarser/,
    );
    const none = describeRegionLook({
      look: 'original',
      medians: { original: 0, dehazed: 0, sharpened: 0 },
      sampled: 0,
      jobId: 1,
    })!;
    expect(none.sentence).toMatch(/does not judge/);
    expect(none.detail).toBe('no tile sampled');
    expect(describeRegionLook(null)).toBeNull();
  });
});
