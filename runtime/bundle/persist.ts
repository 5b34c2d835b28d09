// The last good envelope and the serial floor, kept on disk so that a restart with the bundle
// host down still serves, and so that a restart cannot be rolled back. Written as temp file +
// rename (atomic on POSIX); read back as untrusted bytes that go through full verification.
// A downloaded envelope is written by the activation worker (stageEnvelope, before the bundle is
// active) and takes its name on the event loop once it is (commitStagedCache): the main thread
// never holds the envelope.
import { mkdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { commitStaged, stageFile, writeFileAtomic } from '../../schemas/io/write-atomic.ts';
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
  await commitStagedCache(dir, await stageEnvelope(dir, envelope), floor);
}

/** Writes envelope to a temp file in dir (fsynced); its name for commitStagedCache or discardStaged. */
export async function stageEnvelope(dir: string, envelope: Uint8Array): Promise<string> {
  await mkdir(dir, { recursive: true });
  return stageFile(join(dir, ENVELOPE), envelope, 0o600);
}

/** As writeCache, for an envelope staged by stageEnvelope: it becomes the cached envelope, then the floor rises. */
export async function commitStagedCache(dir: string, staged: string, floor: SerialFloor): Promise<void> {
  await commitStaged(staged, join(dir, ENVELOPE));
  await writeFileAtomic(join(dir, FLOOR), Buffer.from(JSON.stringify(floor) + '\n'), 0o600);
}

/** Removes a staged envelope whose bundle did not become active. */
export async function discardStaged(staged: string): Promise<void> {
  await unlink(staged).catch(() => {});
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
