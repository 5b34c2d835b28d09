// env://VARIABLE: the root key from the runtime's environment, read like every other source
// (keyValue): without the trailing newline a value copied from a file (a Kubernetes secret made
// from a file, an .env line) often keeps; with it every provider call fails.
import type { SecretSource } from '../../schemas/formats/secret-source.ts';
import { keyValue, SecretError } from '../../schemas/formats/secret-source.ts';

/** The env:// secret source, reading env (the process environment by default). */
export function envSecretSource(env: NodeJS.ProcessEnv = process.env): SecretSource {
  return {
    scheme: 'env',
    read: async (ref) => {
      if (ref.scheme !== 'env') throw new SecretError('malformed_ref', 'not an env:// reference');
      const value = env[ref.variable];
      if (value === undefined || value === '') throw new SecretError('not_found', `environment variable ${ref.variable} is not set`);
      return keyValue(value, `environment variable ${ref.variable}`);
    },
  };
}
