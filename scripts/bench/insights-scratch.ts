import { openDatabase } from '../../server/lib/db/client.ts';
import { labelErrorScores, precisionAtK, averagePrecision } from '../../server/lib/insights/label-errors.ts';
import { readLatentRows, rankPercentiles } from '../../server/lib/insights/latent-rows.ts';
const db = openDatabase(process.argv[2]);
const runId = 2;
const rows = readLatentRows(db, runId);
const ph = new Map((db.sqlite.prepare('select idx, phenomena from patches where run_id=?').all(runId) as any[]).map(r => [r.idx, JSON.parse(r.phenomena ?? '[]') as string[]]));
const r = labelErrorScores(rows, { k: Number(process.argv[3] ?? 10) });
const a = rankPercentiles(r.disagreement), b = rankPercentiles(r.neighbourGap);
const variants: Record<string, (i: number) => number> = {
  rankavg: (i) => a[i] + b[i],
  geo: (i) => Math.sqrt(a[i] * b[i]),
  w31: (i) => 3 * a[i] + b[i],
  raw: (i) => r.disagreement[i] * (1 + r.neighbourGap[i]),
  w91: (i) => 9 * a[i] + b[i],
  add: (i) => r.disagreement[i] + 0.25 * r.neighbourGap[i],
  disagree: (i) => r.disagreement[i],
};
for (const [name, f] of Object.entries(variants)) {
  const order = Array.from({ length: rows.n }, (_, i) => i).sort((x, y) => f(y) - f(x));
  const pos = (i: number) => ph.get(i)!.includes('construction_site');
  console.log(name, 'P@10', precisionAtK(order, pos, 10), 'P@24', precisionAtK(order, pos, 24).toFixed(3), 'AP', averagePrecision(order, pos).toFixed(3),
    order.slice(0, 30).map(i => (ph.get(i)!.join('+') || '-').slice(0, 6)).join(','));
}
const cs = [...ph.entries()].filter(([, p]) => p.includes('construction_site')).map(([i]) => i);
console.log('cs gap', cs.map(i => r.neighbourGap[i].toFixed(2)).join(' '), 'iou', cs.map(i => rows.iou[i].toFixed(2)).join(' '));
