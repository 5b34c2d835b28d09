// Whole-file writes that a reader (a gateway polling, a gateway booting from its cache) never sees
// half done: a temp file in the same folder (rename is atomic only within one file system),
// fsynced before the rename, so after a crash the file is either the old or the new one.
import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';

export async function writeFileAtomic(path: string, bytes: Uint8Array, mode: number): Promise<void> {
  const temp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    const handle = await open(temp, 'wx', mode);
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => {});
    throw error;
  }
}
