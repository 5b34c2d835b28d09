// Ed25519 PEM key files for signing (compiler) and verifying (runtime, verify, publish) bundles.
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';

export class KeyFileError extends Error {}

export async function readPrivateKey(path: string): Promise<KeyObject> {
  const pem = await readKeyFile(path);
  try {
    const key = createPrivateKey(pem);
    if (key.asymmetricKeyType !== 'ed25519')
      throw new KeyFileError(`${path} is a ${key.asymmetricKeyType} key; bundles are signed with Ed25519 (create one with \`modelgate keygen\`)`);
    return key;
  } catch (error) {
    if (error instanceof KeyFileError) throw error;
    throw new KeyFileError(`${path} is not a PEM private key`);
  }
}

/** A public key from a public-key PEM (or the public half of a private-key PEM). */
export async function readPublicKey(path: string): Promise<KeyObject> {
  const pem = await readKeyFile(path);
  try {
    const key = createPublicKey(pem);
    if (key.asymmetricKeyType !== 'ed25519') throw new KeyFileError(`${path} is a ${key.asymmetricKeyType} key; bundles are verified with Ed25519 keys`);
    return key;
  } catch (error) {
    if (error instanceof KeyFileError) throw error;
    throw new KeyFileError(`${path} is not a PEM public key`);
  }
}

export function generateSigningKeyPair(): { privatePem: string; publicPem: string; publicKey: KeyObject } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    publicKey,
  };
}

async function readKeyFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    throw new KeyFileError(`cannot read key file ${path}`);
  }
}
