/**
 * The plugin on a plain MapLibre map: the project's own imagery as the base layer (no remote style, no
 * glyphs), and `TilelensControl` added like any other control. `?project=ID` picks the project, else
 * the first one; `?layers=priority,confidence,footprints,grid` the layers.
 */
import * as maplibregl from 'maplibre-gl';
import { createApiClient, TilelensControl, type TilelensLayerName } from './src/index.ts';

const status = document.getElementById('status')!;
const params = new URLSearchParams(location.search);
const api = createApiClient({ server: location.origin });

async function main() {
  const wanted = params.get('project');
  const projectId = wanted ? Number(wanted) : (await api.projects())[0]?.id;
  if (!projectId) {
    status.textContent = 'No project on this server yet: create and score one (npm run demo does).';
    return;
  }
  const manifest = await api.overlays(projectId);
  const map = new maplibregl.Map({
    container: 'map',
    style: {
      version: 8,
      sources: {
        imagery: {
          type: 'raster',
          tiles: manifest.imagery.tiles,
          tileSize: 256,
          // Imagery that exists only at the scoring zoom (the demo world) is simply absent when zoomed out.
          minzoom: manifest.imagery.minzoom,
          maxzoom: manifest.imagery.maxzoom,
          attribution: manifest.imagery.attribution ?? '',
        },
      },
      layers: [
        { id: 'background', type: 'background', paint: { 'background-color': '#1d2226' } },
        { id: 'imagery', type: 'raster', source: 'imagery' },
      ],
    },
    bounds: manifest.bounds as [number, number, number, number],
    fitBoundsOptions: { padding: 20 },
    attributionControl: false,
  });
  const layers = (params.get('layers')?.split(',') as TilelensLayerName[] | undefined) ?? [
    'priority',
    'confidence',
    'footprints',
    'grid',
  ];
  const control = new TilelensControl({ server: location.origin, projectId, layers });
  map.addControl(control, 'top-right');
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-left');
  const update = () => {
    status.textContent = `project ${projectId} · zoom ${map.getZoom().toFixed(1)} · tiles version ${manifest.version}`;
  };
  map.on('moveend', update);
  (window as unknown as { tilelensDemo: unknown }).tilelensDemo = { map, control, manifest };
  await control.ready;
  update();
}

main().catch((err: Error) => {
  status.textContent = `tilelens demo failed: ${err.message}`;
  console.error(err);
});
