// aws-ssm:///NAME?region=R: the root key from AWS Systems Manager Parameter Store (GetParameter,
// WithDecryption, so SecureString works). Credentials come from the SDK's default provider chain
// (env, SSO, shared files, web identity, ECS, EC2 IMDS); nothing about them is in policy files.
// The endpoint: an explicit `endpoint` option, else the SDK's own service-specific endpoint
// settings (AWS_ENDPOINT_URL_SSM, then AWS_ENDPOINT_URL, or endpoint_url in ~/.aws/config), see
// https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html
import type { SSMClient, SSMClientConfig } from '@aws-sdk/client-ssm';
import type { SecretRef } from '../../schemas/formats/secret-ref.ts';
import type { SecretSource } from '../../schemas/formats/secret-source.ts';
import { keyValue, SecretError } from '../../schemas/formats/secret-source.ts';
import { sdkMissing } from './optional-sdk.ts';

type AwsSsmRef = Extract<SecretRef, { scheme: 'aws-ssm' }>;

export interface AwsSsmSourceOptions {
  /** Overrides the default provider chain (tests pass static keys). */
  credentials?: SSMClientConfig['credentials'];
  /** e.g. http://127.0.0.1:4566 or a VPC endpoint URL; wins over AWS_ENDPOINT_URL_SSM. */
  endpoint?: string;
  /** SDK attempts per read; 1 by default so that the resolver's refresh logic governs retries. */
  maxAttempts?: number;
}

const NOT_FOUND = new Set(['ParameterNotFound', 'ParameterVersionNotFound', 'ParameterVersionLabelNotFound']);
const DENIED = new Set([
  'AccessDeniedException',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'SignatureDoesNotMatch',
  'IncompleteSignature',
  'InvalidClientTokenId',
  'ExpiredTokenException',
  'ExpiredToken',
  'MissingAuthenticationToken',
  'CredentialsProviderError',
]);
const THROTTLED = new Set(['ThrottlingException', 'Throttling', 'TooManyRequestsException', 'RequestLimitExceeded']);

/** A SecretSource for aws-ssm:// references; one SSM client per region, created on first use. */
export function createAwsSsmSecretSource(options: AwsSsmSourceOptions = {}): SecretSource {
  const clients = new Map<string, Promise<SSMClient>>();
  const client = (region: string): Promise<SSMClient> => {
    let made = clients.get(region);
    if (made === undefined) {
      // Loaded on first use: a gateway with no aws-ssm:// reference never pays for the SDK.
      made = import('@aws-sdk/client-ssm').catch(sdkMissing('@aws-sdk/client-ssm', 'aws-ssm')).then(
        ({ SSMClient }) =>
          new SSMClient({
            region,
            maxAttempts: options.maxAttempts ?? 1,
            ...(options.endpoint !== undefined ? { endpoint: options.endpoint } : {}),
            ...(options.credentials !== undefined ? { credentials: options.credentials } : {}),
          }),
      );
      clients.set(region, made);
    }
    return made;
  };

  return {
    scheme: 'aws-ssm',
    read: async (ref, signal) => {
      if (ref.scheme !== 'aws-ssm') throw new SecretError('malformed_ref', 'not an aws-ssm:// reference');
      const [{ GetParameterCommand }, ssm] = await Promise.all([
        import('@aws-sdk/client-ssm').catch(sdkMissing('@aws-sdk/client-ssm', 'aws-ssm')),
        client(ref.region),
      ]);
      let value: string | undefined;
      try {
        const out = await ssm.send(new GetParameterCommand({ Name: ref.name, WithDecryption: true }), { abortSignal: signal });
        value = out.Parameter?.Value;
      } catch (error) {
        throw mapError(error, ref, signal);
      }
      return keyValue(value, describe(ref));
    },
  };
}

function describe(ref: AwsSsmRef): string {
  return `aws-ssm://${ref.name}?region=${ref.region}`;
}

// Only the error's name (the AWS error code) and HTTP status reach the message: SDK messages can
// quote request content, and the message must never be able to carry the value.
function mapError(error: unknown, ref: AwsSsmRef, signal: AbortSignal): SecretError {
  const name = (error as { name?: unknown }).name;
  const code = typeof name === 'string' ? name : 'Error';
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  const detail = status === undefined ? code : `${code}, HTTP ${status}`;
  if (signal.aborted || code === 'AbortError' || code === 'TimeoutError')
    return new SecretError('timeout', `reading ${describe(ref)} timed out or was cancelled`);
  if (NOT_FOUND.has(code)) return new SecretError('not_found', `${describe(ref)} does not exist (${detail})`);
  if (code === 'CredentialsProviderError')
    return new SecretError('access_denied', `no AWS credentials for ${describe(ref)}: the default provider chain found none`);
  if (DENIED.has(code) || status === 403)
    return new SecretError(
      'access_denied',
      `access to ${describe(ref)} was denied (${detail}); the caller needs ssm:GetParameter on the parameter (and kms:Decrypt for SecureString)`,
    );
  if (THROTTLED.has(code) || status === 429) return new SecretError('throttled', `reading ${describe(ref)} was throttled (${detail})`);
  const system = (error as { code?: unknown }).code;
  if (typeof system === 'string' && /^E[A-Z]+$/.test(system)) return new SecretError('read_failed', `cannot reach SSM for ${describe(ref)} (${system})`);
  return new SecretError('read_failed', `reading ${describe(ref)} failed (${detail})`);
}
