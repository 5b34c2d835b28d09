// A bundle file and the keys to trust it, as the commands that read bundles take them.
import { readFile } from 'node:fs/promises';
import { trustKeys, type TrustedKey } from '../../schemas/bundle/verify.ts';
import { KeyFileError, readPublicKey } from '../../schemas/formats/signing-keys.ts';
import { EnvironmentError } from './args.ts';

/** Reads the trusted public keys and the bundle bytes; unreadable files are environment errors (exit 2). */
export async function readBundleInput(file: string, keyPaths: readonly string[]): Promise<{ keys: TrustedKey[]; bytes: Buffer }> {
  let keys: TrustedKey[];
  try {
    keys = trustKeys(await Promise.all(keyPaths.map(readPublicKey)));
  } catch (error) {
    if (error instanceof KeyFileError) throw new EnvironmentError(error.message);
    throw error;
  }
  const bytes = await readFile(file).catch(() => {
    throw new EnvironmentError(`cannot read bundle ${file}`);
  });
  return { keys, bytes };
}
