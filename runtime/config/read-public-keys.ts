// Trusted bundle keys from PEM files (the runtime's own reader: runtime/ never imports compiler/).
import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';

/** Reads Ed25519 public keys; a private-key PEM yields its public half. Throws with a clear message. */
export async function readPublicKeys(paths: readonly string[]): Promise<KeyObject[]> {
  return Promise.all(
    paths.map(async (path) => {
      let pem: string;
      try {
        pem = await readFile(path, 'utf8');
      } catch {
        throw new Error(`cannot read public key file ${path}`);
      }
      let key: KeyObject;
      try {
        key = createPublicKey(pem);
      } catch {
        throw new Error(`${path} is not a PEM public key`);
      }
      if (key.asymmetricKeyType !== 'ed25519') throw new Error(`${path} is a ${key.asymmetricKeyType} key; bundles are verified with Ed25519`);
      return key;
    }),
  );
}
