/**
 * MapSwipe's overlay settings, as its backend declares them for COMPLETENESS projects
 * (`completeness.overlayTileServerProperty`): a RASTER_TILE overlay with an opacity, or a VECTOR_TILE overlay
 * with its source layer and paint. Written from the backend's own field list so a draft that passes here is
 * one MapSwipe takes: custom tile servers only (tilelens serves the overlay), zooms 0–22, colours as '#rgb',
 * '#rrggbb' or 'transparent', opacities 0–1.
 */
import { z } from 'zod';

const colour = z
  .string()
  .regex(/^(#[0-9a-fA-F]{3}|#[0-9a-fA-F]{6}|transparent)$/, "a colour is '#rgb', '#rrggbb' or 'transparent'");
const opacity = z.number().min(0).max(1);
const zoom = z.number().int().min(0).max(22);
const tileUrl = z
  .string()
  .url()
  .refine((u) => /^https?:\/\//.test(u), 'the tile server URL must be http(s)')
  .refine(
    (u) => ['{z}', '{x}', '{y}'].every((p) => u.includes(p)),
    'the tile server URL must hold {z}, {x} and {y}',
  );

const customServer = z
  .object({ url: tileUrl, credits: z.string(), minZoom: zoom, maxZoom: zoom })
  .strict()
  .refine((s) => s.minZoom <= s.maxZoom, { message: 'minZoom must not exceed maxZoom', path: ['minZoom'] });

export const mapswipeRasterOverlaySchema = z
  .object({
    type: z.literal('RASTER_TILE'),
    raster: z
      .object({
        opacity,
        tileServer: z.object({ name: z.literal('CUSTOM'), custom: customServer }).strict(),
      })
      .strict(),
  })
  .strict();

export const mapswipeVectorOverlaySchema = z
  .object({
    type: z.literal('VECTOR_TILE'),
    vector: z
      .object({
        tileServer: z
          .object({
            name: z.literal('CUSTOM'),
            custom: z
              .object({
                url: tileUrl,
                credits: z.string(),
                minZoom: zoom,
                maxZoom: zoom,
                sourceLayer: z.string().min(1),
              })
              .strict()
              .refine((s) => s.minZoom <= s.maxZoom, {
                message: 'minZoom must not exceed maxZoom',
                path: ['minZoom'],
              }),
          })
          .strict(),
        fillColor: colour,
        fillOpacity: opacity,
        lineColor: colour,
        lineOpacity: opacity,
        lineWidth: z.number().min(0),
        lineDasharray: z.array(z.number().min(0)).optional(),
        circleColor: colour,
        circleOpacity: opacity,
        circleRadius: z.number().min(0),
      })
      .strict(),
  })
  .strict();

export const mapswipeOverlaySchema = z.discriminatedUnion('type', [
  mapswipeRasterOverlaySchema,
  mapswipeVectorOverlaySchema,
]);
export type MapswipeOverlay = z.infer<typeof mapswipeOverlaySchema>;
