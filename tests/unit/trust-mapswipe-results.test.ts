/**
 * Reading MapSwipe's aggregated results: the real column layout (CSV with WKT geometry and the trailing
 * data-usage line, gzip, and the GeoJSON twin with float-cast properties), the label rule, and each bad
 * file refused with its reason. Storage ("nothing stored") is checked in tests/integration/trust-api.test.ts.
 */
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { labelFromCounts, parseMapswipeResults } from '../../server/lib/trust/mapswipe-results.ts';
import { TrustError } from '../../server/lib/trust/errors.ts';
import {
  AGG_COLUMNS,
  aggResultsCsv,
  aggResultsGeoJson,
  type Answers,
} from '../fixtures/mapswipe-agg-results.ts';

const P = '-NXYZmapswipeProject01';
const MAX = 1 << 20;
const answers: Answers[] = [
  { taskId: '18-155703-141324', no: 0, yes: 3, maybe: 0, bad: 0 },
  { taskId: '18-155704-141324', no: 3, yes: 0, maybe: 0, bad: 0 },
  { taskId: '18-155705-141324', no: 1, yes: 0, maybe: 1, bad: 0 },
  { taskId: '18-155706-141324', no: 0, yes: 0, maybe: 0, bad: 3 },
  { taskId: '18-155707-141324', no: 2, yes: 1, maybe: 0, bad: 1 },
];

/** What the label rule makes of `answers`. */
const LABELS = ['building', 'no_building', 'building', 'bad_imagery', 'no_building'];

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(TrustError);
    expect((err as TrustError).code).toMatch(/results-refused|upload-too-large/);
    return (err as Error).message;
  }
  throw new Error('expected a refusal');
}

describe('the label rule', () => {
  it('counts yes + maybe against no, keeps bad imagery apart and never counts it as no', () => {
    expect(labelFromCounts({ no: 0, yes: 3, maybe: 0, bad: 0 })).toBe('building');
    expect(labelFromCounts({ no: 3, yes: 0, maybe: 0, bad: 0 })).toBe('no_building');
    expect(labelFromCounts({ no: 1, yes: 0, maybe: 1, bad: 0 })).toBe('building');
    expect(labelFromCounts({ no: 2, yes: 1, maybe: 0, bad: 0 })).toBe('no_building');
    expect(labelFromCounts({ no: 0, yes: 0, maybe: 0, bad: 3 })).toBe('bad_imagery');
    // One volunteer could not see: the others decide.
    expect(labelFromCounts({ no: 0, yes: 1, maybe: 0, bad: 1 })).toBe('building');
    expect(labelFromCounts({ no: 1, yes: 0, maybe: 0, bad: 2 })).toBe('bad_imagery');
  });
});

describe('parseMapswipeResults', () => {
  it('reads the CSV as MapSwipe writes it: columns by name, quoted WKT, the trailing data-usage line', () => {
    const r = parseMapswipeResults(aggResultsCsv(answers, P, { metadataLine: true }), { maxBytes: MAX });
    expect(r.format).toBe('csv');
    expect(r.projectId).toBe(P);
    expect(r.rows.map((x) => x.label)).toEqual(LABELS);
    expect(r.rows[0]).toMatchObject({
      z: 18,
      x: 155703,
      y: 141324,
      yes: 3,
      total: 3,
      groupId: 'g100',
      agreement: 1,
    });
  });

  it('reads columns in any order, with extra columns, CRLF line ends and gzip', () => {
    const cols = [...AGG_COLUMNS].reverse().concat('url');
    const csv = aggResultsCsv(answers, P, { columns: cols }).replace(/\n/g, '\r\n');
    const r = parseMapswipeResults(gzipSync(Buffer.from(csv)), { maxBytes: MAX });
    expect(r.rows).toHaveLength(answers.length);
    expect(r.rows[4]).toMatchObject({ no: 2, yes: 1, bad: 1, label: 'no_building' });
  });

  it('reads the GeoJSON twin: float-cast counts and quadkey, geometry as the task square', () => {
    const r = parseMapswipeResults(Buffer.from(aggResultsGeoJson(answers, P)), { maxBytes: MAX });
    expect(r.format).toBe('geojson');
    expect(r.rows.map((x) => x.label)).toEqual(LABELS);
  });

  it('refuses missing columns, naming them', () => {
    const cols = AGG_COLUMNS.filter((c) => c !== '3_count');
    expect(
      refusal(() => parseMapswipeResults(aggResultsCsv(answers, P, { columns: cols }), { maxBytes: MAX })),
    ).toMatch(/missing column\(s\) 3_count/);
  });

  it('refuses duplicated task ids', () => {
    const dup = [...answers, answers[1]];
    expect(refusal(() => parseMapswipeResults(aggResultsCsv(dup, P), { maxBytes: MAX }))).toMatch(
      /task 18-155704-141324 appears twice \(first at line 3\)/,
    );
  });

  it('refuses negative counts', () => {
    const csv = aggResultsCsv(answers, P, { edit: (row, i) => i === 2 && (row['0_count'] = -1) });
    expect(refusal(() => parseMapswipeResults(csv, { maxBytes: MAX }))).toMatch(
      /line 4: 0_count = "-1"; counts are whole numbers ≥ 0/,
    );
  });

  it('refuses counts that do not add up to total_count', () => {
    const csv = aggResultsCsv(answers, P, { edit: (row, i) => i === 0 && (row.total_count = 4) });
    expect(refusal(() => parseMapswipeResults(csv, { maxBytes: MAX }))).toMatch(
      /do not add up to total_count 4/,
    );
  });

  it('refuses shares that do not add up, or that are not the counts over the total', () => {
    const sum = aggResultsCsv(answers, P, { edit: (row, i) => i === 1 && (row['0_share'] = 0.5) });
    expect(refusal(() => parseMapswipeResults(sum, { maxBytes: MAX }))).toMatch(
      /shares .* do not add up to 1/,
    );
    const swapped = aggResultsCsv(answers, P, {
      edit: (row, i) => {
        if (i === 0) [row['0_share'], row['1_share']] = [row['1_share'], row['0_share']];
      },
    });
    expect(refusal(() => parseMapswipeResults(swapped, { maxBytes: MAX }))).toMatch(
      /0_share = 1 but 0_count \/ total_count = 0/,
    );
  });

  it('refuses a file mixing MapSwipe projects', () => {
    const csv = aggResultsCsv(answers, P, { edit: (row, i) => i === 3 && (row.project_id = '-Nother') });
    expect(refusal(() => parseMapswipeResults(csv, { maxBytes: MAX }))).toMatch(/mixes MapSwipe projects/);
  });

  it('refuses a quadkey or geometry that is not the task’s', () => {
    const qk = aggResultsCsv(answers, P, {
      edit: (row, i) => i === 0 && (row.quadkey = String(row.quadkey).replace(/.$/, '0')),
    });
    expect(refusal(() => parseMapswipeResults(qk, { maxBytes: MAX }))).toMatch(
      /quadkey .* is not the quadkey of task/,
    );
    const noQuadkey = AGG_COLUMNS.filter((c) => c !== 'quadkey');
    const geom = aggResultsCsv(answers, P, {
      columns: noQuadkey,
      edit: (row, i) => i === 0 && (row.task_id = '18-155800-141324'),
    });
    expect(refusal(() => parseMapswipeResults(geom, { maxBytes: MAX }))).toMatch(
      /geometry does not lie on tile 18-155800-141324/,
    );
  });

  it('refuses an upload beyond the stated size, compressed or expanded', () => {
    const csv = aggResultsCsv(answers, P);
    expect(refusal(() => parseMapswipeResults(Buffer.from(csv), { maxBytes: 100 }))).toMatch(
      /over the 100 this server accepts/,
    );
    const bomb = gzipSync(Buffer.alloc(2_000_000, 32));
    expect(bomb.byteLength).toBeLessThan(10_000);
    expect(refusal(() => parseMapswipeResults(bomb, { maxBytes: 100_000 }))).toMatch(/expands past that/);
  });

  it('refuses a file that is not results at all', () => {
    expect(refusal(() => parseMapswipeResults('{"type":"Feature"}', { maxBytes: MAX }))).toMatch(
      /not a FeatureCollection/,
    );
    expect(refusal(() => parseMapswipeResults('a,b\n1,2\n', { maxBytes: MAX }))).toMatch(/missing column/);
    expect(refusal(() => parseMapswipeResults(aggResultsCsv([], P), { maxBytes: MAX }))).toMatch(
      /holds no task/,
    );
  });
});
