/**
 * Progress on stderr for long commands: one line per stage, rewritten in place on a terminal and
 * throttled to a line every few seconds otherwise (CI logs stay readable).
 */
export function stderrProgress(prefix = 'tilelens'): (stage: string, done: number, total: number) => void {
  const tty = process.stderr.isTTY;
  let lastStage = '';
  let lastPrint = 0;
  const started = new Map<string, number>();
  return (stage, done, total) => {
    const now = performance.now();
    if (!started.has(stage)) started.set(stage, now);
    const finished = done >= total;
    if (stage === lastStage && !finished && now - lastPrint < (tty ? 200 : 5000)) return;
    const pct = total > 0 ? Math.floor((100 * done) / total) : 100;
    const secs = ((now - started.get(stage)!) / 1000).toFixed(1);
    const line = `${prefix}: ${stage} ${done}/${total} (${pct}%) ${secs}s`;
    if (tty) process.stderr.write(`\r${line}\x1b[K${finished ? '\n' : ''}`);
    else process.stderr.write(`${line}\n`);
    lastStage = stage;
    lastPrint = now;
  };
}
