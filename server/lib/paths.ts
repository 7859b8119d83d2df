import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

/** The repository root, so commands behave the same from any working directory. */
export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** Where generated data lives (demo world, database, activation files); ignored by git. */
export const dataDir = process.env.TILELENS_DATA_DIR ?? join(repoRoot, 'data');

export const demoModelPath = join(repoRoot, 'server/models/demo-unet.onnx');
export const demoWorldDir = join(dataDir, 'demo');
export const defaultDbPath = join(dataDir, 'tilelens.db');
export const runsDir = join(dataDir, 'runs');
