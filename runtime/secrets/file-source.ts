// file:///path: the root key from a file (Kubernetes secret volumes, Docker secrets). Trailing
// newlines are trimmed: editors and `echo` add them, keys never end with one.
import { readFile } from 'node:fs/promises';
import type { SecretSource } from '../../schemas/formats/secret-source.ts';
import { keyValue, SecretError } from '../../schemas/formats/secret-source.ts';

/** The file:// secret source. */
export function fileSecretSource(): SecretSource {
  return {
    scheme: 'file',
    read: async (ref, signal) => {
      if (ref.scheme !== 'file') throw new SecretError('malformed_ref', 'not a file:// reference');
      let text: string;
      try {
        text = await readFile(ref.path, { encoding: 'utf8', signal });
      } catch (error) {
        throw new SecretError('not_found', `cannot read secret file ${ref.path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
      }
      return keyValue(text, `secret file ${ref.path}`);
    },
  };
}
