/**
 * `GET /`: a small page listing runs and projects with links into the API, until the map UI replaces it.
 * Everything shown is escaped: project and run names are user input.
 */
import { Hono } from 'hono';
import { html, raw } from 'hono/html';
import { listRuns } from '../lib/db/analysis-repo.ts';
import type { ScoringContext } from '../lib/scoring/context.ts';
import { listProjects } from '../lib/scoring/projects.ts';

const fmt = (v: number | null | undefined, digits = 3) =>
  v === null || v === undefined ? '–' : v.toFixed(digits);

export function homeRoutes(ctx: ScoringContext): Hono {
  return new Hono().get('/', async (c) => {
    const runs = await listRuns(ctx.db, { limit: 50 });
    const projects = await listProjects(ctx);
    const page = html`<!doctype html>
      <html lang="en">
        <head>
          <meta charset="utf-8" />
          <title>tilelens</title>
          <style>
            body {
              font:
                15px/1.4 system-ui,
                sans-serif;
              margin: 2rem auto;
              max-width: 60rem;
              padding: 0 1rem;
            }
            table {
              border-collapse: collapse;
              width: 100%;
              margin-bottom: 2rem;
            }
            th,
            td {
              text-align: left;
              padding: 0.25rem 0.5rem;
              border-bottom: 1px solid #ddd;
            }
          </style>
        </head>
        <body>
          <h1>tilelens</h1>
          <p>
            The map UI is not built yet; this page lists what the API holds. <a href="/api/health">health</a>
          </p>
          <h2>Reference analysis runs</h2>
          <table>
            <tr>
              <th>run</th>
              <th>model</th>
              <th>dataset</th>
              <th>patches</th>
              <th>model IoU</th>
              <th>IoU surface R² (mean predictor)</th>
              <th>k</th>
            </tr>
            ${runs.map(
              (r) =>
                html`<tr>
                  <td><a href="/api/runs/${r.id}">${r.id}</a></td>
                  <td>${r.modelName}</td>
                  <td>${r.datasetName}</td>
                  <td>${r.patchCount}</td>
                  <td>${fmt(r.modelIouPooled)}</td>
                  <td>${fmt(r.heldOutR2)} (${fmt(r.meanPredictorR2)})</td>
                  <td><a href="/api/runs/${r.id}/clusters">${r.chosenK ?? '–'}</a></td>
                </tr>`,
            )}
          </table>
          <h2>Projects</h2>
          <table>
            <tr>
              <th>project</th>
              <th>name</th>
              <th>tiles</th>
              <th>km²</th>
              <th>exports</th>
            </tr>
            ${projects.map(
              (p) =>
                html`<tr>
                  <td><a href="/api/projects/${p.id}">${p.id}</a></td>
                  <td>${p.name}</td>
                  <td>${p.tileCount}</td>
                  <td>${fmt(p.areaKm2, 2)}</td>
                  <td>
                    ${raw(
                      [
                        'mapswipe-find',
                        'tasking-manager',
                        'tiles.csv',
                        'tiles.geojson',
                        'mapswipe-validate.geojson',
                      ]
                        .map((e) => `<a href="/api/projects/${p.id}/exports/${e}">${e}</a>`)
                        .join(' · '),
                    )}
                  </td>
                </tr>`,
            )}
          </table>
        </body>
      </html>`;
    return c.html(page);
  });
}
