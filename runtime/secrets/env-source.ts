// env://VARIABLE: the root key from the runtime's environment.
import type { SecretSource } from '../../schemas/formats/secret-source.ts';
import { SecretError } from '../../schemas/formats/secret-source.ts';

/** The env:// secret source, reading env (the process environment by default). */
export function envSecretSource(env: NodeJS.ProcessEnv = process.env): SecretSource {
  return {
    scheme: 'env',
    read: async (ref) => {
      if (ref.scheme !== 'env') throw new SecretError('malformed_ref', 'not an env:// reference');
      const value = env[ref.variable];
      if (value === undefined || value === '') throw new SecretError('not_found', `environment variable ${ref.variable} is not set`);
      return value;
    },
  };
}
