/**
 * The latent view's data for an axis pair: training patches and the project's tiles, loaded again when
 * the axes change or a scoring job finishes (attributes are fetched once per loader).
 */
import { useEffect, useMemo, useState } from 'preact/hooks';
import { LatentLoader, type LatentData, type LatentSource } from '../data/latent-data.ts';

export function useLatentData(source: LatentSource, axes: [number, number], version: number) {
  const loader = useMemo(() => new LatentLoader(source), [source.runId, source.projectId, version]);
  const [data, setData] = useState<LatentData | null>(null);
  const [loading, setLoading] = useState<string | null>('Loading the latent space…');
  useEffect(() => {
    let live = true;
    setLoading(`Loading the latent space on components ${axes[0]} and ${axes[1]}…`);
    loader
      .load(axes)
      .then((d) => {
        if (!live) return;
        setData(d);
        setLoading(null);
      })
      .catch((err: Error) => live && setLoading(`Could not load the latent space: ${err.message}`));
    return () => {
      live = false;
    };
  }, [loader, axes[0], axes[1]]);
  return { data, loading };
}
