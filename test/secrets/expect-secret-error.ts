// Asserts a SecretError's reason, that its message names the reference, and that no form of the
// error (message, inspected object with its cause chain, JSON) carries a secret value.
import { inspect } from 'node:util';
import { expect } from 'vitest';
import { SecretError } from '../../schemas/formats/secret-source.ts';

export async function expectSecretError(
  read: Promise<unknown>,
  reason: SecretError['reason'],
  options: { names: string; never: readonly string[] },
): Promise<SecretError> {
  const error: unknown = await read.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'the read should have failed').toBeInstanceOf(SecretError);
  const secretError = error as SecretError;
  expect(secretError.reason).toBe(reason);
  expect(secretError.message).toContain(options.names);
  const renderings = [secretError.message, inspect(secretError, { depth: 10 }), JSON.stringify(secretError), String(secretError.stack)];
  for (const value of options.never) for (const text of renderings) expect(text).not.toContain(value);
  return secretError;
}
