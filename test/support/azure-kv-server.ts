// A local Azure Key Vault for tests: HTTPS on 127.0.0.1 with a self-signed certificate, the
// bearer challenge flow, and GET /{vault}/secrets/NAME/[VERSION]?api-version=... (vaults are told
// apart by a path prefix, so one server holds several). Wire:
// https://learn.microsoft.com/rest/api/keyvault/secrets/get-secret/get-secret and
// https://learn.microsoft.com/azure/key-vault/general/authentication-requests-and-responses
import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { selfSignedCertificate } from './tls-cert.ts';

export const AZURE_TEST_TOKEN = 'eyJ0eXAiOiJKV1QifQ.modelgate-test-access-token';
export const AZURE_TEST_TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';

export type AzureKvMode = 'ok' | 'forbidden' | 'throttle' | 'hang';

export interface AzureKvServer {
  /** https://127.0.0.1:PORT */
  url: string;
  /** The vault URL template for the source: https://127.0.0.1:PORT/{vault} */
  urlTemplate: string;
  /** The CA to trust (PEM), i.e. the server's own certificate. */
  ca: string;
  /** Sets a new current version of the secret and returns its version id (32 hex chars). */
  setSecret(vault: string, name: string, value: string, options?: { enabled?: boolean }): string;
  setMode(mode: AzureKvMode): void;
  /** Tokens that are accepted (default: AZURE_TEST_TOKEN). */
  acceptTokens(tokens: string[]): void;
  /** Requests seen: "vault/name[/version]" plus whether they carried a token. */
  requests: { path: string; authorized: boolean; apiVersion: string | null }[];
  /**
   * An App Service style managed identity endpoint (plain HTTP, as on App Service) that issues
   * AZURE_TEST_TOKEN for resource https://vault.azure.net: set IDENTITY_ENDPOINT and IDENTITY_HEADER
   * and DefaultAzureCredential's ManagedIdentityCredential uses it.
   */
  managedIdentity: { IDENTITY_ENDPOINT: string; IDENTITY_HEADER: string };
  close(): Promise<void>;
}

interface Version {
  id: string;
  value: string;
  enabled: boolean;
}

export async function startAzureKvServer(): Promise<AzureKvServer> {
  const { key, cert } = selfSignedCertificate();
  const vaults = new Map<string, Version[]>(); // "vault/name" -> versions, oldest first
  const requests: AzureKvServer['requests'] = [];
  let tokens = new Set([AZURE_TEST_TOKEN]);
  let mode: AzureKvMode = 'ok';
  let base = '';

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'x-ms-keyvault-service-version': '1.9.0.0', ...headers });
    res.end(JSON.stringify(body));
  };
  const error = (res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): void =>
    send(res, status, { error: { code, message } }, headers);

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'https://127.0.0.1');
    // The SDK percent-encodes the query key (api%2Dversion); URLSearchParams decodes it.
    const apiVersion = url.searchParams.get('api-version');
    const m = /^\/([A-Za-z0-9-]+)\/secrets\/([A-Za-z0-9-]+)\/?([0-9a-f]{32})?\/?$/.exec(url.pathname);
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    requests.push({ path: m === null ? url.pathname : [m[1], m[2], m[3]].filter(Boolean).join('/'), authorized: bearer !== undefined, apiVersion });
    if (apiVersion === null) return error(res, 400, 'BadParameter', 'The api-version query parameter is required.');
    if (req.method !== 'GET' || m === null) return error(res, 404, 'NotFound', 'no such route');
    if (bearer === undefined || !tokens.has(bearer)) {
      // The challenge: where to get a token (the tenant's authority) and for which resource.
      const challenge = `Bearer authorization="https://login.microsoftonline.com/${AZURE_TEST_TENANT}", resource="https://vault.azure.net"`;
      return error(res, 401, 'Unauthorized', bearer === undefined ? 'AKV10000: Request is missing a Bearer or PoP token.' : 'AKV10032: Invalid issuer.', {
        'www-authenticate': challenge,
      });
    }
    if (mode === 'hang') return; // never answers
    if (mode === 'forbidden')
      return send(res, 403, {
        error: {
          code: 'Forbidden',
          message: 'Caller is not authorized to perform action on resource.\r\nAction: Microsoft.KeyVault/vaults/secrets/getSecret/action',
          innererror: { code: 'ForbiddenByRbac' },
        },
      });
    if (mode === 'throttle')
      return error(res, 429, 'Throttled', 'Request was not processed because too many requests were received. Reason: VaultRequestTypeLimitReached', {
        'retry-after': '1',
      });
    const [, vault, name, version] = m as unknown as [string, string, string, string | undefined];
    const versions = vaults.get(`${vault}/${name}`) ?? [];
    const entry = version === undefined ? versions.at(-1) : versions.find((v) => v.id === version);
    if (entry === undefined)
      return error(
        res,
        404,
        'SecretNotFound',
        `A secret with (name/id) ${name}${version ? `/${version}` : ''} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182`,
      );
    if (!entry.enabled)
      return send(res, 403, {
        error: { code: 'Forbidden', message: `Operation get is not allowed on a disabled secret.`, innererror: { code: 'SecretDisabled' } },
      });
    send(res, 200, {
      value: entry.value,
      id: `https://${vault}.vault.azure.net/secrets/${name}/${entry.id}`,
      attributes: { enabled: true, created: 1_700_000_000, updated: 1_700_000_000, recoveryLevel: 'Recoverable+Purgeable', recoverableDays: 90 },
      tags: {},
    });
  };

  const server = createServer({ key, cert }, handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  // https://learn.microsoft.com/azure/app-service/overview-managed-identity#rest-endpoint-reference
  const identityHeader = randomBytes(12).toString('hex');
  const identity = createHttpServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname !== '/msi/token' || req.headers['x-identity-header'] !== identityHeader) return send(res, 400, { error: 'invalid_request' });
    if (url.searchParams.get('resource') !== 'https://vault.azure.net') return send(res, 400, { error: 'invalid_resource' });
    send(res, 200, {
      access_token: AZURE_TEST_TOKEN,
      expires_on: String(Math.floor(Date.now() / 1000) + 3600),
      resource: 'https://vault.azure.net',
      token_type: 'Bearer',
      client_id: '00000000-0000-0000-0000-000000000001',
    });
  });
  await new Promise<void>((resolve) => identity.listen(0, '127.0.0.1', resolve));
  const identityPort = (identity.address() as AddressInfo).port;
  base = `https://127.0.0.1:${port}`;
  return {
    url: base,
    urlTemplate: `${base}/{vault}`,
    ca: cert,
    setSecret(vault, name, value, options = {}) {
      const id = randomBytes(16).toString('hex');
      const list = vaults.get(`${vault}/${name}`) ?? [];
      list.push({ id, value, enabled: options.enabled ?? true });
      vaults.set(`${vault}/${name}`, list);
      return id;
    },
    setMode(next) {
      mode = next;
    },
    acceptTokens(next) {
      tokens = new Set(next);
    },
    requests,
    managedIdentity: { IDENTITY_ENDPOINT: `http://127.0.0.1:${identityPort}/msi/token`, IDENTITY_HEADER: identityHeader },
    close: () =>
      Promise.all(
        [server, identity].map(
          (s) =>
            new Promise<void>((resolve) => {
              s.closeAllConnections();
              s.close(() => resolve());
            }),
        ),
      ).then(() => undefined),
  };
}
