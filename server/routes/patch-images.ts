/** Images of a run's training patches, served by id (server/lib/insights/patch-images.ts finds them). */
import { Hono } from 'hono';
import { z } from 'zod';
import type { PatchImageKind, PatchImageStore } from '../lib/insights/patch-images.ts';
import { validate } from '../middleware/validate.ts';
import { decimalId, decimalInt } from '../middleware/params.ts';

const params = z.object({
  id: decimalId,
  idx: decimalInt(0),
  file: z.enum(['image.png', 'mask.png', 'prediction.png'], {
    error: 'ask for image.png, mask.png or prediction.png',
  }),
});

/** Mounted under /api/runs: `/:id/patches/:idx/{image,mask,prediction}.png`. */
export function patchImageRoutes(store: PatchImageStore): Hono {
  return new Hono().get('/:id/patches/:idx/:file', validate('param', params), async (c) => {
    const { id, idx, file } = c.req.valid('param');
    const png = await store.png(id, idx, file.slice(0, -4) as PatchImageKind);
    // Stored runs never change, so their images never do either.
    return c.body(png as Uint8Array<ArrayBuffer>, 200, {
      'Content-Type': 'image/png',
      'Cache-Control': 'public, max-age=86400',
    });
  });
}
