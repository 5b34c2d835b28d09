// file://DIR: bundle-<serial>.json for history and bundle.json, the file runtimes poll. Each file is
// written whole (temp + fsync + rename), and the read-compare-write runs under an exclusive lock.
import { mkdir, readdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { writeFileAtomic } from '../../schemas/io/write-atomic.ts';
import type { Destination, PublishResult } from './destination.ts';
import type { Publishable } from './envelope.ts';
import { readPublished } from './envelope.ts';
import { PublishError, type Published } from './errors.ts';
import { type LockOptions, withFileLock } from './file-lock.ts';
import { decidePublish } from './order.ts';

const STABLE_NAME = 'bundle.json';
const ARCHIVED = /^bundle-(\d{1,16})\.json$/;
const LOCK_NAME = '.modelgate-publish.lock';

export interface FileDestinationOptions {
  /** How many bundle-<serial>.json files to keep (the newest); at least 1. */
  keep: number;
  lock?: Partial<LockOptions>;
}

/** A folder that runtimes read (directly, or through a web server or a synced volume). */
export function fileDestination(dir: string, options: FileDestinationOptions): Destination {
  const lock: LockOptions = { timeoutMs: 15_000, staleMs: 60_000, ...options.lock };
  const display = pathToFileURL(dir).href;
  return {
    display,
    async publish(bundle) {
      await io(`create ${dir}`, () => mkdir(dir, { recursive: true }));
      return withFileLock(join(dir, LOCK_NAME), lock, () => publishLocked(dir, bundle, options.keep, display));
    },
  };
}

async function publishLocked(dir: string, bundle: Publishable, keep: number, display: string): Promise<PublishResult> {
  const stable = join(dir, STABLE_NAME);
  const { current, stableHolds } = await readCurrent(dir);
  const decision = decidePublish(bundle, current, display);
  const notes: string[] = [];
  if (decision === 'publish') await writeWhole(join(dir, `bundle-${bundle.serial}.json`), bundle.bytes);
  // A publisher that died between its two renames left bundle.json behind: finish its work.
  const repair = decision === 'unchanged' && (stableHolds?.serial !== bundle.serial || stableHolds.digest !== bundle.digest);
  if (decision === 'publish' || repair) await writeWhole(stable, bundle.bytes);
  if (repair) notes.push(`${STABLE_NAME} did not hold serial ${bundle.serial} yet (an interrupted publish): written now`);
  const pruned = await prune(dir, keep);
  if (pruned.length > 0) notes.push(`removed ${pruned.join(', ')} (keeping the newest ${keep})`);
  return { status: decision === 'publish' || repair ? 'published' : 'unchanged', previous: current, pollUrl: stable, notes };
}

/** The highest bundle the folder holds: bundle.json, or a newer bundle-<serial>.json left by an interrupted publish. */
async function readCurrent(dir: string): Promise<{ current: Published | null; stableHolds: Published | null }> {
  const stable = await readIfExists(join(dir, STABLE_NAME));
  const stableHolds = stable === null ? null : readPublished(stable, join(dir, STABLE_NAME));
  const highest = (await archived(dir))[0];
  if (highest !== undefined && (stableHolds === null || highest.serial > stableHolds.serial)) {
    const bytes = await readIfExists(join(dir, highest.name));
    if (bytes !== null) return { current: readPublished(bytes, join(dir, highest.name)), stableHolds };
  }
  return { current: stableHolds, stableHolds };
}

/** bundle-<serial>.json files, newest first. */
async function archived(dir: string): Promise<{ name: string; serial: number }[]> {
  const names = await io(`list ${dir}`, () => readdir(dir));
  return names
    .map((name) => ({ name, match: ARCHIVED.exec(name) }))
    .filter((entry): entry is { name: string; match: RegExpExecArray } => entry.match !== null)
    .map(({ name, match }) => ({ name, serial: Number(match[1]) }))
    .sort((a, b) => b.serial - a.serial);
}

async function prune(dir: string, keep: number): Promise<string[]> {
  const old = (await archived(dir)).slice(keep);
  for (const { name } of old) await io(`remove ${name}`, () => unlink(join(dir, name)));
  return old.map(({ name }) => name);
}

async function writeWhole(path: string, bytes: Buffer): Promise<void> {
  await io(`write ${path}`, () => writeFileAtomic(path, bytes, 0o644));
}

async function readIfExists(path: string): Promise<Buffer | null> {
  try {
    return await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new PublishError('MG_PUBLISH_DESTINATION_FAILED', `cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`, { cause: error });
  }
}

async function io<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof PublishError) throw error;
    throw new PublishError('MG_PUBLISH_DESTINATION_FAILED', `cannot ${what} (${(error as NodeJS.ErrnoException).code ?? 'error'})`, { cause: error });
  }
}
