// Whole-file writes that a reader (a gateway polling, a gateway booting from its cache, a person
// running the CLI again) never sees half done: a temp file in the same folder (rename is atomic
// only within one file system), fsynced before it takes the final name, and the folder fsynced
// after, so that after a crash the file is either the old or the new one and the new name is
// durable.
import { randomBytes } from 'node:crypto';
import { link, open, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface WriteAtomicOptions {
  /** Never replace an existing file: fail with EEXIST instead (a key, a key record). */
  exclusive?: boolean;
}

/**
 * Writes `bytes` to `path` whole (temp file, fsync, rename, fsync of the folder), created with `mode`.
 * `bytes` may come in chunks (an iterable), for files too large to hold as one string.
 */
export async function writeFileAtomic(
  path: string,
  bytes: Uint8Array | string | Iterable<Uint8Array>,
  mode: number,
  options: WriteAtomicOptions = {},
): Promise<void> {
  await commitStaged(await stageFile(path, bytes, mode), path, options);
}

/**
 * The first half of writeFileAtomic: `bytes` written and fsynced to a temp file next to `path`,
 * whose name it returns; commitStaged gives it the final name. The halves may run on different
 * threads (the activation worker stages a downloaded bundle, the event loop commits it once the
 * bundle is active).
 */
export async function stageFile(path: string, bytes: Uint8Array | string | Iterable<Uint8Array>, mode: number): Promise<string> {
  const temp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    const handle = await open(temp, 'wx', mode);
    try {
      if (typeof bytes === 'string' || bytes instanceof Uint8Array) await handle.writeFile(bytes);
      else for (const chunk of bytes) await handle.write(chunk);
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (error) {
    await unlink(temp).catch(() => {});
    throw error;
  }
  return temp;
}

/** The second half: the staged temp file takes the name `path` (atomically), or is removed on failure. */
export async function commitStaged(temp: string, path: string, options: WriteAtomicOptions = {}): Promise<void> {
  try {
    // link() refuses an existing target where rename() would replace it; both are atomic.
    if (options.exclusive === true) {
      await link(temp, path);
      await unlink(temp);
    } else {
      await rename(temp, path);
    }
  } catch (error) {
    await unlink(temp).catch(() => {});
    throw error;
  }
  await syncFolder(dirname(path));
}

// The rename is durable only once the folder's entry is on disk. Some platforms cannot open or
// fsync a folder (Windows: EISDIR/EPERM); there the rename is as durable as the OS makes it.
async function syncFolder(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL' && code !== 'EBADF' && code !== 'EACCES') throw error;
  } finally {
    await handle?.close();
  }
}
