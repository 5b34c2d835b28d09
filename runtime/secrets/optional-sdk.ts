// The cloud SDKs are optional peer dependencies of the modelgate package: a gateway installs the
// one its secret references need (npm install @aws-sdk/client-ssm@3.1169.0), a policy repository's
// CI installs none. A missing one fails the read with the package and version to install.
import { SecretError } from '../../schemas/formats/secret-source.ts';

/** The optional peer dependencies and the versions package.json pins (a test keeps them equal). */
export const OPTIONAL_SDKS = {
  '@aws-sdk/client-ssm': '3.1169.0',
  '@azure/identity': '^4.13.1',
  '@azure/keyvault-secrets': '~4.11.0',
  '@google-cloud/secret-manager': '6.3.0',
} as const;

export type OptionalSdk = keyof typeof OPTIONAL_SDKS;

/** Passes a module through; a module that is not installed becomes a permanent SecretError. */
export function sdkMissing(name: OptionalSdk, scheme: string): (error: unknown) => never {
  return (error) => {
    const code = (error as { code?: unknown }).code;
    const missing = (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && String((error as Error).message).includes(name);
    if (!missing) throw error;
    throw new SecretError(
      'unsupported_scheme',
      `${scheme}:// references need the optional package ${name}@${OPTIONAL_SDKS[name]}, which is not installed: npm install ${name}@${OPTIONAL_SDKS[name]}`,
      { cause: error },
    );
  };
}
