// A bundle file and the keys to trust it, as the commands that read bundles take them.
import { readFile } from 'node:fs/promises';
import { type TrustedKey, trustKeys, type VerifiedBundle, verifyBundle } from '../../schemas/bundle/verify.ts';
import { readPublicKey } from '../../schemas/formats/signing-keys.ts';
import { EnvironmentError, toCliError } from './errors.ts';

/** Reads the bundle bytes; an unreadable file is an environment error (exit 2). */
export async function readBundleBytes(file: string): Promise<Buffer> {
  return readFile(file).catch(() => Promise.reject(new EnvironmentError(`cannot read bundle ${file}`)));
}

/** Reads the trusted public keys and the bundle bytes; unreadable files are environment errors (exit 2). */
export async function readBundleInput(file: string, keyPaths: readonly string[]): Promise<{ keys: TrustedKey[]; bytes: Buffer }> {
  const keys = trustKeys(await Promise.all(keyPaths.map(readPublicKey)));
  return { keys, bytes: await readBundleBytes(file) };
}

/** Reads and verifies the bundle (signature and schema; not expiry); a refusal is the answer, with its MG_BUNDLE_* code. */
export async function readVerifiedBundle(file: string, keyPaths: readonly string[]): Promise<VerifiedBundle> {
  const { keys, bytes } = await readBundleInput(file, keyPaths);
  try {
    return verifyBundle(bytes, keys);
  } catch (error) {
    throw toCliError(error, { subject: file });
  }
}
