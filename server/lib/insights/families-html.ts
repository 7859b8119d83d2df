/**
 * The failure families as one self-contained HTML page (thumbnails inlined as small base64 JPEGs), to send to
 * someone who does not run tilelens.
 */
import sharp from 'sharp';
import type { Family, FamiliesReport } from './failure-families.ts';

/** Gives a patch's image as PNG or JPEG bytes (any size); thumbnails are made from it. */
export type PatchImageProvider = (idx: number) => Promise<Uint8Array>;

const escapeHtml = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!,
  );

export async function thumbnail(bytes: Uint8Array, size = 72): Promise<string> {
  const jpg = await sharp(bytes).resize(size, size).jpeg({ quality: 70 }).toBuffer();
  return `data:image/jpeg;base64,${jpg.toString('base64')}`;
}

const ERROR_LABEL: Record<Family['dominantError'], string> = {
  false_alarms: 'false alarms',
  missed_buildings: 'missed buildings',
  boundary: 'boundary errors',
  none: 'no dominant error',
};

function histogram(f: Family): string {
  const max = Math.max(1, ...f.iouHistogram.counts);
  return f.iouHistogram.counts
    .map(
      (c, i) =>
        `<span class="bar" title="IoU ${f.iouHistogram.edges[i].toFixed(1)}–${f.iouHistogram.edges[i + 1].toFixed(1)}: ${c}" style="height:${Math.round((30 * c) / max)}px"></span>`,
    )
    .join('');
}

export async function familiesHtml(
  report: FamiliesReport,
  image: PatchImageProvider,
  title = `Failure families of run ${report.runId}`,
): Promise<string> {
  const thumbs = new Map<number, string>();
  const thumb = async (idx: number, role: string) => {
    if (!thumbs.has(idx)) {
      try {
        thumbs.set(idx, await thumbnail(await image(idx)));
      } catch {
        thumbs.set(idx, '');
      }
    }
    const src = thumbs.get(idx)!;
    return src
      ? `<figure><img src="${src}" alt="patch ${idx}"><figcaption>${role} #${idx}</figcaption></figure>`
      : `<figure><div class="missing">no image</div><figcaption>${role} #${idx}</figcaption></figure>`;
  };
  const sections: string[] = [];
  const families = [...report.families].sort((a, b) => (a.meanIou ?? 1) - (b.meanIou ?? 1));
  for (const f of families) {
    const figs: string[] = [];
    for (const i of f.representatives.slice(0, 3)) figs.push(await thumb(i, 'representative'));
    figs.push(await thumb(f.medoid, 'medoid'));
    for (const i of f.prototypes) figs.push(await thumb(i, 'prototype'));
    for (const i of f.criticisms) figs.push(await thumb(i, 'criticism'));
    const mix = Object.entries(f.groupMix)
      .sort((a, b) => b[1] - a[1])
      .map(([g, n]) => `${escapeHtml(g || '—')} ${n}`)
      .join(', ');
    sections.push(`<section class="${f.dominantError}">
<h2>Family ${f.id} <small>${f.size} patches · ${ERROR_LABEL[f.dominantError]}</small></h2>
<p>mean IoU ${f.meanIou === null ? '—' : f.meanIou.toFixed(2)} · pooled IoU ${f.pooled.iou === null ? '—' : f.pooled.iou.toFixed(2)} · boundary IoU ${f.meanBoundaryIou === null ? '—' : f.meanBoundaryIou.toFixed(2)} · false-alarm share of errors ${f.falseAlarmShare === null ? '—' : f.falseAlarmShare.toFixed(2)} · both empty ${(100 * f.emptyShare).toFixed(0)} %</p>
<p class="hist">${histogram(f)}</p>
<p>groups: ${mix}</p>
<div class="figs">${figs.join('')}</div>
</section>`);
  }
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>
body{font:14px system-ui,sans-serif;margin:1.5em;max-width:70em;color:#222}
section{border-left:6px solid #999;padding:.3em 1em;margin:1em 0;background:#fafafa}
section.false_alarms{border-color:#d7301f}section.missed_buildings{border-color:#2171b5}section.boundary{border-color:#ec7014}section.none{border-color:#41ab5d}
h2{margin:.2em 0;font-size:1.1em}small{color:#666;font-weight:normal}
.figs{display:flex;flex-wrap:wrap;gap:6px}figure{margin:0;text-align:center;font-size:11px;color:#555}
img,.missing{width:72px;height:72px;display:block}.missing{background:#ddd}
.hist{display:flex;align-items:flex-end;gap:2px;height:32px}.bar{display:inline-block;width:10px;background:#6a51a3}
</style></head><body>
<h1>${escapeHtml(title)}</h1>
<p>Families are sub-clusters of the run's k-means clusters in the latent space. Dominant error: ${escapeHtml(report.rule)}.
Prototypes and criticisms by MMD-critic (RBF kernel on the principal components). Histogram: IoU in tenths, 0 to 1.</p>
${sections.join('\n')}
</body></html>`;
}
