/**
 * The scored tile: what a scoring job writes per slippy-map tile, and what every export, overlay and
 * benchmark reads. One zod schema so a row from the database, a JSON upload and a test fixture are
 * checked the same way.
 */
import { z } from 'zod';

export const TILE_STATUSES = ['scored', 'missing', 'undecodable', 'failed'] as const;
export type TileStatus = (typeof TILE_STATUSES)[number];

/** Ordered from "volunteers first" to "volunteers never". */
export const TIERS = ['high', 'medium', 'low', 'skip'] as const;
export type Tier = (typeof TIERS)[number];

const unit = z.number().min(0).max(1);
const position = z.array(z.number()).min(2).max(3);

export const multiPolygonSchema = z.object({
  type: z.literal('MultiPolygon'),
  coordinates: z.array(z.array(z.array(position).min(4)).min(1)),
});

export const scoredTileSchema = z
  .object({
    z: z.number().int().min(0).max(30),
    x: z.number().int().min(0),
    y: z.number().int().min(0),
    /** MapSwipe's task id, `z-x-y`. */
    taskId: z.string().regex(/^\d+-\d+-\d+$/),
    quadkey: z.string().regex(/^[0-3]*$/),
    status: z.enum(TILE_STATUSES),
    error: z.string().optional(),
    /** Imagery reads the tile took over every job, retries included. */
    attempts: z.number().int().min(0).optional(),
    /** Probability that the tile holds at least one building (the run's tile classifier). */
    buildingProb: unit,
    /** That probability's interval without labels from the region: it widens where the run does not cover the tile. */
    buildingProbLow: unit.optional(),
    buildingProbHigh: unit.optional(),
    /** Share of the tile's pixels the model marks as building. */
    predFraction: unit,
    /** The model's surest pixel on the tile: with predFraction, the model's own evidence alone. */
    maxProb: unit.optional(),
    /** Smoothed IoU from the latent-space surface: how far the prediction can be trusted. */
    iouHat: unit,
    iouLow: unit.optional(),
    iouHigh: unit.optional(),
    /** Latent distance to the nearest urbanised cluster's centroid. */
    urbanDistance: z.number().min(0),
    /** Percentile (0..100) of this tile's distance to the training set among the training set's own. */
    novelty: z.number().min(0).max(100),
    /** Novelty as a multiple of the reference set's 99th percentile: above 1 the run does not cover the tile. */
    noveltyRatio: z.number().min(0).optional(),
    /** 0..1, higher = volunteers see it first. */
    priority: unit,
    tier: z.enum(TIERS).optional(),
    modelId: z.string().min(1),
    runId: z.union([z.string().min(1), z.number().int()]),
    /** Predicted buildings, lon/lat. */
    footprints: multiPolygonSchema.optional(),
  })
  .refine((t) => t.taskId === `${t.z}-${t.x}-${t.y}`, {
    path: ['taskId'],
    message: 'taskId must be `z-x-y` of the same tile',
  })
  .refine((t) => t.quadkey.length === t.z, {
    path: ['quadkey'],
    message: 'quadkey must have one digit per zoom level',
  });

export type ScoredTile = z.infer<typeof scoredTileSchema>;
