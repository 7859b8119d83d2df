/**
 * Work on a stream of items with up to `ahead` of them in flight, results handed on as they finish
 * rather than in order. A scoring job fetches its tiles this way, so that one stalled request holds up
 * its own tile and not the batch around it: the model takes the next tiles that arrived while the
 * stalled one waits out its timeout.
 *
 * Memory stays bounded by `ahead` results; items are pulled from the source only as slots free up.
 */
type Settled<R> = { id: number; value: R } | { id: number; error: unknown };

export async function* fetchAhead<T, R>(
  items: AsyncIterable<T> | Iterable<T>,
  work: (item: T) => Promise<R>,
  ahead: number,
): AsyncGenerator<R> {
  if (!Number.isInteger(ahead) || ahead < 1)
    throw new RangeError(`ahead must be an integer ≥ 1, got ${ahead}`);
  // A source read from the database is asynchronous; a grid computed in memory is not: both are pulled the same way.
  const source: AsyncIterator<T> | Iterator<T> =
    Symbol.asyncIterator in items ? items[Symbol.asyncIterator]() : items[Symbol.iterator]();
  const inFlight = new Map<number, Promise<Settled<R>>>();
  let nextId = 0;
  let exhausted = false;
  const fill = async () => {
    while (!exhausted && inFlight.size < ahead) {
      const next = await source.next();
      if (next.done) {
        exhausted = true;
        return;
      }
      const id = nextId++;
      // Settled, never rejected: a failure waits for its turn, and nothing is left unhandled if we stop early.
      inFlight.set(
        id,
        work(next.value).then(
          (value) => ({ id, value }),
          (error: unknown) => ({ id, error }),
        ),
      );
    }
  };
  await fill();
  while (inFlight.size > 0) {
    const done = await Promise.race(inFlight.values());
    inFlight.delete(done.id);
    if ('error' in done) throw done.error;
    await fill();
    yield done.value;
  }
}
