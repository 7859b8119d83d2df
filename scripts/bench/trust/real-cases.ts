import type { DatabaseHandle } from '../../../server/lib/db/client.ts';
import type { TrustCase } from './cases.ts';

export async function* realDataCases(
  _outDir: string,
): AsyncGenerator<{ db: DatabaseHandle; runId: number; reference: string; cases: TrustCase[] }> {
  // filled in below
}
