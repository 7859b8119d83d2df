/**
 * `TilelensControl`: a MapLibre IControl that adds a tilelens project's overlays to any MapLibre map,
 * with a small panel to switch them on and off and a legend per layer.
 *
 *   map.addControl(new TilelensControl({ server: 'http://127.0.0.1:8700', projectId: 1 }), 'top-right');
 *
 * onAdd fetches the project's overlay manifest, then adds the sources and layers of `layers.ts`
 * (before `beforeId` if given); onRemove takes them all away again. While the project's scoring job
 * runs, the control re-reads the manifest every `refreshMs` and points the sources at the new version,
 * so tiles fill in as they are scored. Only maplibre-gl's types are imported: the host map brings it.
 */
import type { IControl, Map as MapLibreMap, RasterTileSource, VectorTileSource } from 'maplibre-gl';
import { createApiClient, type ApiClient, type OverlayManifest } from './api-client.ts';
import {
  DEFAULT_RASTER_OPACITY,
  RASTER_LAYERS,
  sourceId,
  tilelensStyle,
  type TilelensLayerName,
  type TilelensStyle,
} from './layers.ts';

export interface TilelensControlOptions {
  /** Base URL of the tilelens server. */
  server: string;
  projectId: number;
  /** Layers to offer, bottom to top; defaults to priority, confidence, footprints. */
  layers?: TilelensLayerName[];
  /** Which start visible (default: the first raster layer and the vector layers). */
  visible?: Partial<Record<TilelensLayerName, boolean>>;
  /** Manager token; overlays are public reads, so only needed if the host reuses `control.api` for changes. */
  token?: string;
  /** Insert the layers below this existing layer (e.g. the host's labels). */
  beforeId?: string;
  opacity?: number;
  /** How often to look for newly scored tiles while a job runs; 0 turns it off. */
  refreshMs?: number;
  /** Zoom the map to the project when added. */
  fitBounds?: boolean;
  /** Show the toggle panel and legends (default true); false adds the layers only. */
  panel?: boolean;
  fetch?: typeof fetch;
}

const LAYER_TITLES: Record<TilelensLayerName, string> = {
  priority: 'Priority',
  confidence: 'Confidence',
  novelty: 'Novelty',
  footprints: 'Predicted buildings',
  grid: 'Tile grid',
};

export class TilelensControl implements IControl {
  readonly api: ApiClient;
  /** Resolves with the manifest once the layers are on the map; rejects if the server could not be read. */
  readonly ready: Promise<OverlayManifest>;
  private resolveReady!: (m: OverlayManifest) => void;
  private rejectReady!: (e: unknown) => void;
  private map?: MapLibreMap;
  private container?: HTMLDivElement;
  private style?: TilelensStyle;
  private manifest?: OverlayManifest;
  private timer?: ReturnType<typeof setTimeout>;
  private round = 0;
  private removed = false;

  constructor(private readonly options: TilelensControlOptions) {
    if (!options.server) throw new Error('TilelensControl: give { server }, the tilelens server URL');
    if (!Number.isInteger(options.projectId) || options.projectId < 1) {
      throw new Error(
        `TilelensControl: projectId must be a positive integer, got ${String(options.projectId)}`,
      );
    }
    this.api = createApiClient({ server: options.server, token: options.token, fetch: options.fetch });
    this.ready = new Promise((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    // A host that never awaits `ready` should not see an unhandled rejection; the panel shows the error.
    this.ready.catch(() => {});
  }

  onAdd(map: MapLibreMap): HTMLElement {
    this.map = map;
    this.removed = false;
    const el = document.createElement('div');
    el.className = 'maplibregl-ctrl maplibregl-ctrl-group tilelens-ctrl';
    el.style.cssText = 'padding:6px 8px;font:12px/1.35 system-ui,sans-serif;background:#fff;max-width:230px;';
    el.textContent = 'tilelens: loading…';
    // Without a panel the host draws its own controls; an empty white box would only cover the map.
    if (this.options.panel === false) el.style.display = 'none';
    this.container = el;
    void this.install(map);
    return el;
  }

  onRemove(): void {
    this.removed = true;
    clearTimeout(this.timer);
    const map = this.map;
    if (map && this.style) {
      for (const layer of this.style.layers) if (map.getLayer(layer.id)) map.removeLayer(layer.id);
      for (const id of Object.keys(this.style.sources)) if (map.getSource(id)) map.removeSource(id);
    }
    this.container?.remove();
    this.container = undefined;
    this.style = undefined;
    this.map = undefined;
  }

  getDefaultPosition(): 'top-right' {
    return 'top-right';
  }

  /** The MapLibre layer ids of the tilelens layers, e.g. for `queryRenderedFeatures`. */
  layerIds(name: TilelensLayerName): string[] {
    return this.style?.layerIds[name] ?? [];
  }

  setVisible(name: TilelensLayerName, visible: boolean): void {
    for (const id of this.layerIds(name))
      this.map?.setLayoutProperty(id, 'visibility', visible ? 'visible' : 'none');
    const box = this.container?.querySelector<HTMLInputElement>(`input[data-layer="${name}"]`);
    if (box) box.checked = visible;
  }

  isVisible(name: TilelensLayerName): boolean {
    const id = this.layerIds(name)[0];
    return !!id && this.map?.getLayoutProperty(id, 'visibility') !== 'none';
  }

  setOpacity(name: (typeof RASTER_LAYERS)[number], opacity: number): void {
    for (const id of this.layerIds(name)) this.map?.setPaintProperty(id, 'raster-opacity', opacity);
  }

  fitToProject(): void {
    if (this.map && this.manifest)
      this.map.fitBounds(this.manifest.bounds as [number, number, number, number], {
        padding: 20,
        duration: 0,
      });
  }

  private async install(map: MapLibreMap): Promise<void> {
    try {
      const manifest = await this.api.overlays(this.options.projectId);
      await styleReady(map);
      if (this.removed) return;
      this.manifest = manifest;
      this.style = tilelensStyle(manifest, {
        layers: this.options.layers,
        visible: this.options.visible,
        opacity: this.options.opacity,
      });
      for (const [id, source] of Object.entries(this.style.sources)) map.addSource(id, source);
      for (const layer of this.style.layers) map.addLayer(layer, this.options.beforeId);
      if (this.options.fitBounds) this.fitToProject();
      if (this.options.panel !== false) this.renderPanel(manifest);
      else this.container!.textContent = '';
      this.scheduleRefresh();
      this.resolveReady(manifest);
    } catch (err) {
      if (this.container) this.container.textContent = `tilelens: ${(err as Error).message}`;
      this.rejectReady(err);
    }
  }

  /**
   * Reads the manifest again now and follows it while a job runs: for a host that has just started a job
   * on a project whose last one had finished (the control stops polling a finished project).
   */
  refresh(): void {
    if (!this.map || !this.manifest || this.removed) return;
    clearTimeout(this.timer);
    // A poll already in flight belongs to the old round: its follow-up is dropped.
    const round = ++this.round;
    void this.poll().then(() => round === this.round && this.scheduleRefresh());
  }

  private scheduleRefresh(): void {
    const every = this.options.refreshMs ?? 5000;
    if (!every || this.manifest?.final || this.removed) return;
    const round = this.round;
    this.timer = setTimeout(
      () => void this.poll().then(() => round === this.round && this.scheduleRefresh()),
      every,
    );
  }

  /** One read of the manifest; a new version repoints the sources. */
  private async poll(): Promise<void> {
    if (this.removed) return;
    try {
      const next = await this.api.overlays(this.options.projectId);
      if (this.removed) return;
      if (next.version !== this.manifest?.version) this.pointSourcesAt(next);
      else this.manifest = next;
    } catch {
      // A server restart mid-job: try again next round.
    }
  }

  /** New version → new tile URLs, so the map refetches without a full style reload. */
  private pointSourcesAt(next: OverlayManifest): void {
    const map = this.map;
    if (!map) return;
    this.manifest = next;
    for (const r of next.raster) {
      (map.getSource(sourceId(next.projectId, r.id)) as RasterTileSource | undefined)?.setTiles(r.tiles);
    }
    (map.getSource(sourceId(next.projectId, 'vector')) as VectorTileSource | undefined)?.setTiles(
      next.vector.tiles,
    );
  }

  private renderPanel(manifest: OverlayManifest): void {
    const el = this.container!;
    el.textContent = '';
    const title = document.createElement('div');
    title.textContent = `tilelens · project ${manifest.projectId}`;
    title.style.cssText = 'font-weight:600;margin-bottom:4px;';
    el.append(title);
    const names = this.style ? (Object.keys(this.style.layerIds) as TilelensLayerName[]) : [];
    for (const name of names) {
      const row = document.createElement('label');
      row.style.cssText = 'display:block;margin:3px 0;cursor:pointer;';
      const box = document.createElement('input');
      box.type = 'checkbox';
      box.dataset.layer = name;
      box.checked = this.isVisible(name);
      box.addEventListener('change', () => this.setVisible(name, box.checked));
      row.append(box, ` ${LAYER_TITLES[name]}`);
      const raster = manifest.raster.find((r) => r.id === name);
      if (raster) {
        row.title = raster.description;
        row.append(legendElement(raster.legend));
      } else if (name !== 'grid') {
        row.title = `Zoom ${manifest.vector.minzoom} and closer`;
      }
      el.append(row);
    }
    const note = document.createElement('div');
    note.style.cssText = 'color:#666;margin-top:3px;';
    note.textContent = `Outlines from zoom ${manifest.vector.minzoom}; overlay opacity ${Math.round((this.options.opacity ?? DEFAULT_RASTER_OPACITY) * 100)} %.`;
    el.append(note);
  }
}

/**
 * Resolves once the map's style can take sources and layers. Not MapLibre's `load` event, nor
 * `isStyleLoaded()`: both wait for every imagery tile too, and over a slow imagery server that is
 * seconds during which the overlays could already show. The style's own flag (`style._loaded`) and
 * the `style.load` / `styledata` events say when the style itself is in.
 */
export function styleReady(map: MapLibreMap): Promise<void> {
  const styleLoaded = () =>
    Boolean((map as unknown as { style?: { _loaded?: boolean } }).style?._loaded) || map.isStyleLoaded();
  if (styleLoaded()) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (!styleLoaded()) return;
      map.off('style.load', done);
      map.off('styledata', done);
      map.off('load', done);
      resolve();
    };
    map.on('style.load', done);
    map.on('styledata', done);
    map.on('load', done);
  });
}

type Legend = OverlayManifest['raster'][number]['legend'];

/** A gradient bar with the scale's two ends named, and a grey swatch for tiles that could not be scored. */
export function legendElement(legend: Legend): HTMLElement {
  const wrap = document.createElement('div');
  wrap.className = 'tilelens-legend';
  wrap.style.cssText = 'margin:2px 0 4px 18px;';
  const [lo, hi] = legend.domain;
  const stops = legend.stops
    .map((s) => `${s.color} ${(((s.value - lo) / (hi - lo)) * 100).toFixed(1)}%`)
    .join(', ');
  const bar = document.createElement('div');
  // The checkerboard shows the scale's transparency: translucent colours let the imagery through.
  bar.style.cssText =
    `height:10px;border-radius:2px;background:linear-gradient(to right, ${stops}),` +
    'repeating-conic-gradient(#ccc 0% 25%, #fff 0% 50%) 0 0 / 8px 8px;';
  const labels = document.createElement('div');
  labels.style.cssText = 'display:flex;justify-content:space-between;color:#444;';
  const low = document.createElement('span');
  low.textContent = legend.lowLabel;
  const high = document.createElement('span');
  high.textContent = legend.highLabel;
  labels.append(low, high);
  wrap.append(bar, labels);
  if (legend.noScore) {
    const none = document.createElement('div');
    none.style.cssText = 'color:#444;';
    const sw = document.createElement('span');
    sw.style.cssText = `display:inline-block;width:10px;height:10px;vertical-align:-1px;margin-right:4px;background:${legend.noScore};`;
    none.append(sw, 'no imagery / not scored');
    wrap.append(none);
  }
  return wrap;
}
