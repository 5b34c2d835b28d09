// gcp-sm://projects/P/secrets/S/versions/V: the root key from Google Secret Manager
// (AccessSecretVersion). Credentials are Application Default Credentials through
// google-auth-library (GOOGLE_APPLICATION_CREDENTIALS, gcloud user credentials, workload identity
// federation, the metadata server on GCE/GKE/Cloud Run); nothing about them is in policy files.
// The client speaks REST (the library's HTTP/1.1 "fallback" transport) in every deployment, so the
// transport the tests exercise is the one production uses. The endpoint: the `endpoint` option, else
// MODELGATE_GCP_SM_ENDPOINT (e.g. https://secretmanager.us-east1.rep.googleapis.com, a Private
// Service Connect name, or http://127.0.0.1:PORT in tests), else secretmanager.googleapis.com.
import type { SecretManagerServiceClient } from '@google-cloud/secret-manager';
import type { SecretRef } from '../../schemas/formats/secret-ref.ts';
import type { SecretSource } from '../../schemas/formats/secret-source.ts';
import { keyValue, SecretError } from '../../schemas/formats/secret-source.ts';
import { sdkMissing } from './optional-sdk.ts';

type GcpSmRef = Extract<SecretRef, { scheme: 'gcp-sm' }>;
type ClientOptions = NonNullable<ConstructorParameters<typeof SecretManagerServiceClient>[0]>;

export interface GcpSmSourceOptions {
  /** Overrides ADC (tests pass an OAuth2Client holding a fixed access token). */
  authClient?: ClientOptions['authClient'];
  /** Base URL of the Secret Manager REST API, e.g. http://127.0.0.1:8085; wins over the env var. */
  endpoint?: string;
  env?: NodeJS.ProcessEnv;
}

const GCP_SM_ENDPOINT_ENV = 'MODELGATE_GCP_SM_ENDPOINT';

interface AccessResponse {
  name?: string | null;
  payload?: { data?: Uint8Array | string | null } | null;
}
type Cancellable<T> = Promise<T> & { cancel?: () => void };

/** A SecretSource for gcp-sm:// references; one client, created on first use. */
export function createGcpSmSecretSource(options: GcpSmSourceOptions = {}): SecretSource {
  let client: Promise<SecretManagerServiceClient> | undefined;
  const getClient = (): Promise<SecretManagerServiceClient> =>
    (client ??= (async () => {
      // Loaded on first use: a gateway with no gcp-sm:// reference never pays for the SDK.
      const { SecretManagerServiceClient } = await import('@google-cloud/secret-manager').catch(sdkMissing('@google-cloud/secret-manager', 'gcp-sm'));
      const made = new SecretManagerServiceClient({
        fallback: true,
        ...endpointOptions(options.endpoint ?? (options.env ?? process.env)[GCP_SM_ENDPOINT_ENV]),
        ...(options.authClient !== undefined ? { authClient: options.authClient } : {}),
      });
      await made.initialize();
      return made;
    })().catch((error: unknown) => {
      client = undefined; // a failed start (no ADC yet) is retried on the next read
      throw error;
    }));

  return {
    scheme: 'gcp-sm',
    read: async (ref, signal) => {
      if (ref.scheme !== 'gcp-sm') throw new SecretError('malformed_ref', 'not a gcp-sm:// reference');
      const name = `projects/${ref.project}/secrets/${ref.secret}/versions/${ref.version}`;
      let response: AccessResponse;
      try {
        const sm = await getClient();
        // innerApiCalls, not sm.accessSecretVersion(): the public method wraps the call in a promise
        // that drops cancel(), and logs the whole response (the secret) when GOOGLE_SDK_NODE_LOGGING
        // is set. The routing header is the one the public method adds; retry: null leaves retries
        // to the resolver (the library would otherwise retry UNAVAILABLE and RESOURCE_EXHAUSTED for 60 s).
        const call = sm.innerApiCalls.accessSecretVersion!(
          { name },
          { retry: null, otherArgs: { headers: { 'x-goog-request-params': `name=${encodeURIComponent(name)}` } } },
        ) as Cancellable<[AccessResponse]>;
        response = (await abortable(call, signal))[0];
      } catch (error) {
        throw mapError(error, ref, signal);
      }
      const data = response.payload?.data;
      const text =
        data === undefined || data === null ? '' : typeof data === 'string' ? Buffer.from(data, 'base64').toString('utf8') : Buffer.from(data).toString('utf8');
      return keyValue(text, describe(ref));
    },
  };
}

/** Client options for an endpoint URL: protocol, host and port for the REST transport. */
function endpointOptions(endpoint: string | undefined): Partial<ClientOptions> {
  if (endpoint === undefined || endpoint === '') return {};
  const url = new URL(endpoint);
  const protocol = url.protocol.replace(/:$/, '');
  if (protocol !== 'http' && protocol !== 'https') throw new SecretError('read_failed', `${GCP_SM_ENDPOINT_ENV} must be an http(s) URL`);
  const port = url.port === '' ? (protocol === 'http' ? 80 : 443) : Number(url.port);
  return { apiEndpoint: url.hostname.replace(/^\[|\]$/g, ''), port, protocol };
}

/** Rejects when the signal fires and cancels the HTTP request, so a hung call frees its socket. */
function abortable<T>(call: Cancellable<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    call.cancel?.();
    call.catch(() => {});
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      call.cancel?.();
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    call.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

function describe(ref: GcpSmRef): string {
  return `gcp-sm://projects/${ref.project}/secrets/${ref.secret}/versions/${ref.version}`;
}

// Only the status reaches the message, never the SDK's text: a GaxiosError's message is the whole
// response body and its config holds the bearer token, so it is not kept as the cause either.
function mapError(error: unknown, ref: GcpSmRef, signal: AbortSignal): SecretError {
  if (error instanceof SecretError) return error;
  if (signal.aborted) return new SecretError('timeout', `reading ${describe(ref)} timed out or was cancelled`);
  const e = error as { code?: unknown; status?: unknown; name?: unknown; message?: unknown };
  // Over REST an error is a GaxiosError (code and status: the HTTP status, message: the JSON error
  // body) or a GoogleError (code: the google.rpc.Code); over gRPC a code. Codes under 100 are rpc codes.
  const numbers = [e.code, e.status].filter((n): n is number => typeof n === 'number');
  const rpc = numbers.find((n) => n < 100);
  const http = numbers.find((n) => n >= 100);
  const status = rpcStatusName(e.message) ?? (rpc !== undefined ? RPC_NAMES[rpc] : undefined);
  const detail = [status, http !== undefined ? `HTTP ${http}` : undefined].filter(Boolean).join(', ') || (typeof e.name === 'string' ? e.name : 'error');
  if (status === 'NOT_FOUND' || http === 404) return new SecretError('not_found', `${describe(ref)} does not exist or has no such version (${detail})`);
  if (status === 'FAILED_PRECONDITION') return new SecretError('not_found', `${describe(ref)} is disabled or destroyed (${detail})`);
  if (status === 'PERMISSION_DENIED' || status === 'UNAUTHENTICATED' || http === 403 || http === 401)
    return new SecretError(
      'access_denied',
      `access to ${describe(ref)} was denied (${detail}); the caller needs roles/secretmanager.secretAccessor on the secret`,
    );
  if (status === 'RESOURCE_EXHAUSTED' || http === 429) return new SecretError('throttled', `reading ${describe(ref)} was throttled (${detail})`);
  if (typeof e.message === 'string' && /Could not load the default credentials|Unable to detect a Project Id/.test(e.message)) {
    return new SecretError('access_denied', `no Google credentials for ${describe(ref)}: Application Default Credentials found none`);
  }
  if (typeof e.code === 'string' && /^E[A-Z]+$/.test(e.code))
    return new SecretError('read_failed', `cannot reach Secret Manager for ${describe(ref)} (${e.code})`);
  return new SecretError('read_failed', `reading ${describe(ref)} failed (${detail})`);
}

const RPC_NAMES: Record<number, string> = {
  5: 'NOT_FOUND',
  7: 'PERMISSION_DENIED',
  8: 'RESOURCE_EXHAUSTED',
  9: 'FAILED_PRECONDITION',
  14: 'UNAVAILABLE',
  16: 'UNAUTHENTICATED',
};

/** The google.rpc.Status name (e.g. "NOT_FOUND") from a REST error body, when the message is one. */
function rpcStatusName(message: unknown): string | undefined {
  if (typeof message !== 'string' || !message.startsWith('{')) return undefined;
  try {
    const status = (JSON.parse(message) as { error?: { status?: unknown } }).error?.status;
    return typeof status === 'string' && /^[A-Z_]+$/.test(status) ? status : undefined;
  } catch {
    return undefined;
  }
}
