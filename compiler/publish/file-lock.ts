// An exclusive lock file (O_CREAT|O_EXCL) around the read-compare-write of a file:// destination,
// so two publishers can never both decide "my serial is the highest" and then write in either order.
import { randomBytes } from 'node:crypto';
import { link, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { PublishError } from './errors.ts';

export interface LockOptions {
  /** How long to wait for another publisher before giving up with MG_PUBLISH_LOCKED. */
  timeoutMs: number;
  /** A lock older than this is abandoned whoever holds it (a publish takes milliseconds). */
  staleMs: number;
}

interface Holder {
  pid: number;
  host: string;
  nonce: string;
  at: string;
}

/** Runs fn while holding the lock file at `path`; breaks locks left by dead or long-gone publishers. */
export async function withFileLock<T>(path: string, options: LockOptions, fn: () => Promise<T>): Promise<T> {
  const nonce = await acquire(path, options);
  try {
    return await fn();
  } finally {
    // Remove only our own lock: if it was broken as stale meanwhile, the file is someone else's now.
    const holder = await readHolder(path);
    if (holder?.nonce === nonce) await unlink(path).catch(() => {});
  }
}

async function acquire(path: string, { timeoutMs, staleMs }: LockOptions): Promise<string> {
  const nonce = randomBytes(12).toString('hex');
  const me: Holder = { pid: process.pid, host: hostname(), nonce, at: new Date().toISOString() };
  const deadline = Date.now() + timeoutMs;
  for (let wait = 10; ; wait = Math.min(wait * 2, 200)) {
    try {
      const handle = await open(path, 'wx', 0o644);
      try {
        await handle.writeFile(JSON.stringify(me));
      } finally {
        await handle.close();
      }
      return nonce;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new PublishError('MG_PUBLISH_DESTINATION_FAILED', `cannot create the lock file ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`, {
          cause: error,
        });
      }
    }
    const holder = await readHolder(path);
    const staleIno = await staleInode(path, holder, staleMs);
    if (staleIno !== null) {
      await breakLock(path, staleIno);
      continue;
    }
    if (Date.now() >= deadline) {
      const who = holder === null ? 'another publisher' : `process ${holder.pid} on ${holder.host} (since ${holder.at})`;
      throw new PublishError('MG_PUBLISH_LOCKED', `${path} is held by ${who}; if no publisher is running, delete the lock file`);
    }
    await new Promise((resolve) => setTimeout(resolve, wait * (0.5 + Math.random())));
  }
}

async function readHolder(path: string): Promise<Holder | null> {
  try {
    const value = JSON.parse(await readFile(path, 'utf8')) as Partial<Holder>;
    if (typeof value.pid === 'number' && typeof value.host === 'string' && typeof value.nonce === 'string' && typeof value.at === 'string')
      return value as Holder;
  } catch {
    // missing, or being written right now: judged by its age alone
  }
  return null;
}

/** The inode of the lock file when it is stale (its holder is dead, or it is old), else null. */
async function staleInode(path: string, holder: Holder | null, staleMs: number): Promise<number | null> {
  const info = await stat(path).catch(() => null);
  // Gone already: not stale, just free; the next attempt takes it.
  if (info === null) return null;
  const deadHolder = holder !== null && holder.host === hostname() && !isAlive(holder.pid);
  return deadHolder || Date.now() - info.mtimeMs > staleMs ? info.ino : null;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// Breaking is a rename (atomic) to a private name, then a check that what we moved is the file we
// judged stale (same inode); if another publisher broke and retook the lock in between, put it back.
async function breakLock(path: string, staleIno: number): Promise<void> {
  const aside = `${path}.stale-${randomBytes(6).toString('hex')}`;
  try {
    await rename(path, aside);
  } catch {
    return; // someone else moved it first
  }
  const moved = await stat(aside).catch(() => null);
  if (moved !== null && moved.ino !== staleIno) await link(aside, path).catch(() => {});
  await unlink(aside).catch(() => {});
}
