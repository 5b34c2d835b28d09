// The one rule every destination applies (pure): a destination only ever moves to a higher serial.
// Mirrors the runtime's activation check (runtime/bundle/activate.ts), which stays the backstop.
import { PublishError, type Published } from './errors.ts';

export type PublishDecision = 'publish' | 'unchanged';

/**
 * Whether `next` may replace `current` at `where`: a higher serial is published, the same serial
 * with the same digest is a no-op, anything else throws MG_PUBLISH_STALE_SERIAL.
 */
export function decidePublish(next: Published, current: Published | null, where: string): PublishDecision {
  if (current === null || next.serial > current.serial) return 'publish';
  if (next.serial === current.serial && next.digest === current.digest) return 'unchanged';
  const why =
    next.serial === current.serial
      ? `${where} already holds serial ${current.serial} with different content (digest ${short(current.digest)}, this bundle ${short(next.digest)}); two bundles must never share a serial: compile again for a new one`
      : `${where} holds serial ${current.serial}, higher than this bundle's ${next.serial}; publishing it would roll runtimes back (to undo a change, revert it in git and compile a new bundle)`;
  return stale(why, current);
}

function stale(message: string, current: Published): never {
  throw new PublishError('MG_PUBLISH_STALE_SERIAL', message, { current });
}

/** The first 12 hex digits, enough to tell digests apart in a message. */
export function short(digest: string): string {
  return digest.slice(0, 12);
}
