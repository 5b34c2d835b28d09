// A local Google Secret Manager REST endpoint for tests, on 127.0.0.1 over HTTP:
// GET /v1/projects/P/secrets/S/versions/V:access with a bearer token, replying
// {"name", "payload": {"data": base64}} or a google.rpc.Status error body
// ({"error": {"code", "message", "status"}}), as https://cloud.google.com/secret-manager/docs/reference/rest
// Bearer tokens: fixed access tokens, or self-signed service account JWTs (what google-auth-library
// sends for a service account key file under ADC), checked against the registered public key.
import { createPublicKey, type KeyObject, verify } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export const GCP_TEST_TOKEN = 'ya29.modelgate-test-access-token';

export type GcpSmMode = 'ok' | 'permission_denied' | 'throttle' | 'hang' | 'unavailable';

export interface GcpSmServer {
  /** http://127.0.0.1:PORT */
  url: string;
  /** Adds a new version of the secret (so `latest` moves), returns its number. */
  addVersion(project: string, secret: string, value: string): number;
  /** Disables a version: accessing it fails with FAILED_PRECONDITION. */
  disableVersion(project: string, secret: string, version: number): void;
  setMode(mode: GcpSmMode): void;
  /** Tokens that are accepted (default: GCP_TEST_TOKEN). */
  acceptTokens(tokens: string[]): void;
  /** Accepts RS256 JWTs self-signed by this service account key (iss = email, cloud-platform scope). */
  trustServiceAccount(email: string, publicKeyPem: string): void;
  /** Resource names of the authenticated :access requests seen. */
  reads: string[];
  close(): Promise<void>;
}

const STATUS = {
  INVALID_ARGUMENT: 400,
  FAILED_PRECONDITION: 400,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  NOT_FOUND: 404,
  RESOURCE_EXHAUSTED: 429,
  UNAVAILABLE: 503,
} as const;

export async function startGcpSmServer(): Promise<GcpSmServer> {
  const secrets = new Map<string, { value: string; enabled: boolean }[]>();
  const reads: string[] = [];
  let tokens = new Set([GCP_TEST_TOKEN]);
  const accounts = new Map<string, KeyObject>();
  const accepted = (bearer: string | undefined): boolean => bearer !== undefined && (tokens.has(bearer) || selfSignedJwtValid(bearer, accounts));
  let mode: GcpSmMode = 'ok';

  const server = createServer((req, res) => {
    const fail = (status: keyof typeof STATUS, message: string): void => {
      res.writeHead(STATUS[status], { 'content-type': 'application/json; charset=UTF-8' });
      res.end(JSON.stringify({ error: { code: STATUS[status], message, status } }));
    };
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const m = /^\/v1\/projects\/([^/]+)\/secrets\/([^/]+)\/versions\/([^/:]+):access$/.exec(decodeURIComponent(url.pathname));
    if (req.method !== 'GET' || m === null) return fail('NOT_FOUND', `no route ${req.method} ${url.pathname}`);
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (!accepted(bearer)) return fail('UNAUTHENTICATED', 'Request had invalid authentication credentials. Expected OAuth 2 access token.');
    const [, project, secret, version] = m as unknown as [string, string, string, string];
    const name = `projects/${project}/secrets/${secret}/versions/${version}`;
    reads.push(name);
    if (mode === 'hang') return; // never answers
    if (mode === 'permission_denied')
      return fail('PERMISSION_DENIED', `Permission 'secretmanager.versions.access' denied for resource '${name}' (or it may not exist).`);
    if (mode === 'throttle') return fail('RESOURCE_EXHAUSTED', "Quota exceeded for quota metric 'Access requests' and limit 'Access requests per minute'.");
    if (mode === 'unavailable') return fail('UNAVAILABLE', 'The service is currently unavailable.');
    const versions = secrets.get(`${project}/${secret}`) ?? [];
    const number = version === 'latest' ? versions.findLastIndex((v) => v.enabled) + 1 : /^\d+$/.test(version) ? Number(version) : NaN;
    const entry = versions[number - 1];
    if (Number.isNaN(number)) return fail('INVALID_ARGUMENT', 'Invalid resource field value in the request.');
    if (entry === undefined) return fail('NOT_FOUND', `Secret Version [projects/${project}/secrets/${secret}/versions/${version}] not found.`);
    if (!entry.enabled) return fail('FAILED_PRECONDITION', `Secret Version [${name}] is in DISABLED state.`);
    res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8' });
    res.end(
      JSON.stringify({
        name: `projects/${project}/secrets/${secret}/versions/${number}`,
        payload: { data: Buffer.from(entry.value, 'utf8').toString('base64') },
      }),
    );
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    addVersion(project, secret, value) {
      const key = `${project}/${secret}`;
      const versions = secrets.get(key) ?? [];
      versions.push({ value, enabled: true });
      secrets.set(key, versions);
      return versions.length;
    },
    disableVersion(project, secret, version) {
      const entry = secrets.get(`${project}/${secret}`)?.[version - 1];
      if (entry !== undefined) entry.enabled = false;
    },
    setMode(next) {
      mode = next;
    },
    acceptTokens(next) {
      tokens = new Set(next);
    },
    trustServiceAccount(email, publicKeyPem) {
      accounts.set(email, createPublicKey(publicKeyPem));
    },
    reads,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A service account's self-signed JWT: RS256 by a trusted key, unexpired, for cloud-platform. */
function selfSignedJwtValid(token: string, accounts: ReadonlyMap<string, KeyObject>): boolean {
  const [header, payload, signature] = token.split('.');
  if (header === undefined || payload === undefined || signature === undefined) return false;
  try {
    const h = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as { alg?: string };
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { iss?: string; sub?: string; scope?: string; aud?: string; exp?: number };
    const key = accounts.get(claims.iss ?? '');
    if (h.alg !== 'RS256' || key === undefined || claims.sub !== claims.iss) return false;
    if (typeof claims.exp !== 'number' || claims.exp * 1000 < Date.now()) return false;
    const forUs =
      claims.scope?.split(' ').includes('https://www.googleapis.com/auth/cloud-platform') === true || claims.aud === 'https://secretmanager.googleapis.com/';
    return forUs && verify('sha256', Buffer.from(`${header}.${payload}`), key, Buffer.from(signature, 'base64url'));
  } catch {
    return false;
  }
}
