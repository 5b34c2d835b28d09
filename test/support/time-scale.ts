// The one knob for how long the tests wait before calling something hung. Tests assert behaviour,
// never how fast it happened (timing lives in test/bench/); every wait has a hang guard so a broken
// build fails instead of hanging, and every guard is a base multiplied by MG_TEST_TIME_SCALE.
//
// The default (4) lets the suite pass on a 2-core machine with both cores kept busy by other
// processes; raise it on slower or busier machines. A guard costs nothing while the tests pass.

const DEFAULT_SCALE = 4;

function readScale(text: string | undefined): number {
  if (text === undefined || text === '') return DEFAULT_SCALE;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`MG_TEST_TIME_SCALE must be a positive number, got ${JSON.stringify(text)}`);
  return value;
}

/** The multiplier of every hang guard (MG_TEST_TIME_SCALE, default 4). */
export const TIME_SCALE = readScale(process.env.MG_TEST_TIME_SCALE);

/** A hang guard: baseMs (what a quiet machine needs, with room) times TIME_SCALE. */
export function scaled(baseMs: number): number {
  return Math.ceil(baseMs * TIME_SCALE);
}

/** The default guard of waitFor: long enough for anything a test waits on in-process. */
export const HANG_GUARD_MS = scaled(5_000);

/** Per-test and per-hook timeouts (vitest.config.ts); tests that spawn many processes ask for more. */
export const TEST_TIMEOUT_MS = scaled(30_000);
