// The last good envelope and the serial floor, kept on disk so that a restart with the bundle
// host down still serves, and so that a restart cannot be rolled back. Written as temp file +
// rename (atomic on POSIX); read back as untrusted bytes that go through full verification.
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../schemas/io/write-atomic.ts';
import type { SerialFloor } from './gate.ts';

const ENVELOPE = 'bundle.json';
const FLOOR = 'serial-floor.json';

export interface CachedState {
  envelope: Buffer | null;
  floor: SerialFloor | null;
}

/** Reads the cache; missing or unreadable files read as absent (the bundle source still decides). */
export async function readCache(dir: string): Promise<CachedState> {
  const envelope = await readFile(join(dir, ENVELOPE)).catch(() => null);
  const floorText = await readFile(join(dir, FLOOR), 'utf8').catch(() => null);
  return { envelope, floor: floorText === null ? null : parseFloor(floorText) };
}

/** Persists the envelope of a bundle that just activated, then raises the floor to its serial. */
export async function writeCache(dir: string, envelope: Uint8Array, floor: SerialFloor): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFileAtomic(join(dir, ENVELOPE), envelope, 0o600);
  await writeFileAtomic(join(dir, FLOOR), Buffer.from(JSON.stringify(floor) + '\n'), 0o600);
}

function parseFloor(text: string): SerialFloor | null {
  try {
    const value = JSON.parse(text) as Partial<SerialFloor>;
    if (Number.isSafeInteger(value.serial) && typeof value.digest === 'string' && /^[0-9a-f]{64}$/.test(value.digest)) {
      return { serial: value.serial as number, digest: value.digest };
    }
  } catch {
    // fall through: a corrupt floor file is treated as absent, the bundle checks still apply
  }
  return null;
}
