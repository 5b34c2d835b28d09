// azure-kv://VAULT/SECRET[?version=V]: the root key from Azure Key Vault (Get Secret). Credentials
// are @azure/identity's DefaultAzureCredential (environment, workload identity, managed identity,
// Azure CLI/PowerShell/azd on a workstation); nothing about them is in policy files.
// The vault URL: the `vaultUrlTemplate` option, else MODELGATE_AZURE_KV_URL_TEMPLATE, else
// https://{vault}.vault.azure.net ({vault} is replaced by VAULT). Private endpoints keep the public
// name (private DNS resolves it), so the template is for sovereign clouds
// (https://{vault}.vault.azure.cn) and tests. A private CA: NODE_EXTRA_CA_CERTS, or the `ca` option.
import type { TokenCredential } from '@azure/core-auth';
import type { SecretClient } from '@azure/keyvault-secrets';
import { isLoopbackHost } from '../../schemas/formats/loopback.ts';
import type { SecretRef } from '../../schemas/formats/secret-ref.ts';
import type { SecretSource } from '../../schemas/formats/secret-source.ts';
import { keyValue, SecretError } from '../../schemas/formats/secret-source.ts';
import { sdkMissing } from './optional-sdk.ts';

type AzureKvRef = Extract<SecretRef, { scheme: 'azure-kv' }>;

export interface AzureKvSourceOptions {
  /** Overrides DefaultAzureCredential (tests pass a TokenCredential returning a fixed token). */
  credential?: TokenCredential;
  /** e.g. https://{vault}.vault.azure.cn; wins over the env var. */
  vaultUrlTemplate?: string;
  /** PEM CA certificate(s) to trust instead of the public roots (a private TLS-inspecting proxy, tests). */
  ca?: string;
  /**
   * Key Vault checks that the resource in its 401 challenge belongs to the vault's domain before it
   * sends a token. Default: on, except for a loopback vault URL (127.0.0.1, ::1, localhost).
   */
  verifyChallengeResource?: boolean;
  /** SDK retries per read; 0 by default so that the resolver's refresh logic governs retries. */
  maxRetries?: number;
  env?: NodeJS.ProcessEnv;
}

const AZURE_KV_URL_TEMPLATE_ENV = 'MODELGATE_AZURE_KV_URL_TEMPLATE';
const DEFAULT_TEMPLATE = 'https://{vault}.vault.azure.net';

/** A SecretSource for azure-kv:// references; one SecretClient per vault, created on first use. */
export function createAzureKvSecretSource(options: AzureKvSourceOptions = {}): SecretSource {
  const template = options.vaultUrlTemplate ?? (options.env ?? process.env)[AZURE_KV_URL_TEMPLATE_ENV] ?? DEFAULT_TEMPLATE;
  let credential: Promise<TokenCredential> | undefined;
  const getCredential = (): Promise<TokenCredential> =>
    options.credential !== undefined
      ? Promise.resolve(options.credential)
      : (credential ??= import('@azure/identity')
          .catch(sdkMissing('@azure/identity', 'azure-kv'))
          .then(({ DefaultAzureCredential }) => new DefaultAzureCredential()));
  const clients = new Map<string, Promise<SecretClient>>();
  const client = (vault: string): Promise<SecretClient> => {
    let made = clients.get(vault);
    if (made === undefined) {
      const vaultUrl = template.replaceAll('{vault}', vault);
      const loopback = isLoopbackHost(new URL(vaultUrl).hostname);
      // Loaded on first use: a gateway with no azure-kv:// reference never pays for the SDK.
      made = Promise.all([import('@azure/keyvault-secrets').catch(sdkMissing('@azure/keyvault-secrets', 'azure-kv')), getCredential()]).then(
        ([{ SecretClient }, cred]) =>
          new SecretClient(vaultUrl, cred, {
            retryOptions: { maxRetries: options.maxRetries ?? 0 },
            disableChallengeResourceVerification: !(options.verifyChallengeResource ?? !loopback),
            ...(options.ca !== undefined ? { tlsOptions: { ca: options.ca } } : {}),
          }),
      );
      clients.set(vault, made);
    }
    return made;
  };

  return {
    scheme: 'azure-kv',
    read: async (ref, signal) => {
      if (ref.scheme !== 'azure-kv') throw new SecretError('malformed_ref', 'not an azure-kv:// reference');
      let value: string | undefined;
      try {
        const kv = await client(ref.vault);
        const secret = await kv.getSecret(ref.secret, { abortSignal: signal, ...(ref.version !== undefined ? { version: ref.version } : {}) });
        value = secret.value;
      } catch (error) {
        throw mapError(error, ref, signal);
      }
      return keyValue(value, describe(ref));
    },
  };
}

function describe(ref: AzureKvRef): string {
  return `azure-kv://${ref.vault}/${ref.secret}${ref.version !== undefined ? `?version=${ref.version}` : ''}`;
}

// The message carries Key Vault's error code and the HTTP status only; RestError and credential
// errors are not kept as the cause (their request objects hold headers).
function mapError(error: unknown, ref: AzureKvRef, signal: AbortSignal): SecretError {
  if (error instanceof SecretError) return error; // e.g. the SDK is not installed
  if (signal.aborted) return new SecretError('timeout', `reading ${describe(ref)} timed out or was cancelled`);
  const e = error as { name?: unknown; statusCode?: unknown; code?: unknown; details?: { error?: { code?: unknown; innerError?: { code?: unknown } } } };
  const name = typeof e.name === 'string' ? e.name : 'Error';
  const status = typeof e.statusCode === 'number' ? e.statusCode : undefined;
  const code = [e.details?.error?.innerError?.code, e.details?.error?.code, e.code].find((c): c is string => typeof c === 'string' && /^[A-Za-z_]+$/.test(c));
  const detail = [code, status !== undefined ? `HTTP ${status}` : undefined].filter(Boolean).join(', ') || name;
  if (name === 'AbortError') return new SecretError('timeout', `reading ${describe(ref)} timed out or was cancelled`);
  if (name === 'CredentialUnavailableError' || name === 'AuthenticationError' || name === 'AggregateAuthenticationError') {
    return new SecretError(
      'access_denied',
      `no Azure credential could get a token for ${describe(ref)} (${name}): DefaultAzureCredential found none that works`,
    );
  }
  if (status === 404) return new SecretError('not_found', `${describe(ref)} does not exist (${detail})`);
  if (code === 'SecretDisabled') return new SecretError('not_found', `${describe(ref)} is disabled (${detail})`);
  if (status === 401 || status === 403)
    return new SecretError(
      'access_denied',
      `access to ${describe(ref)} was denied (${detail}); the caller needs the Key Vault Secrets User role (or a get-secret access policy) on the vault`,
    );
  if (status === 429) return new SecretError('throttled', `reading ${describe(ref)} was throttled (${detail})`);
  if (code === 'ENOTFOUND' || code === 'ECONNREFUSED') return new SecretError('read_failed', `cannot reach the vault for ${describe(ref)} (${code})`);
  return new SecretError('read_failed', `reading ${describe(ref)} failed (${detail})`);
}
