// A local AWS Systems Manager endpoint for tests: AWS JSON 1.1 over HTTP on 127.0.0.1, GetParameter
// only, with the SigV4 signature of every request checked against the known test key.
// Wire: POST /, x-amz-target: AmazonSSM.GetParameter, errors as HTTP 400 {"__type", "message"}.
// SigV4: https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Test-only keys (not shaped like real ones, so no scanner mistakes them for a leak). */
export const SSM_TEST_CREDENTIALS = { accessKeyId: 'MGTESTACCESSKEYID', secretAccessKey: 'modelgate-test-secret-access-key' } as const;

export type SsmMode = 'ok' | 'access_denied' | 'throttle' | 'hang' | 'internal_error';

export interface SsmServer {
  /** http://127.0.0.1:PORT */
  url: string;
  setParameter(name: string, value: string, type?: 'String' | 'SecureString'): void;
  deleteParameter(name: string): void;
  setMode(mode: SsmMode): void;
  /** Signed GetParameter requests seen, by parameter name (signature failures are not counted). */
  reads: string[];
  close(): Promise<void>;
}

interface Parameter {
  value: string;
  type: string;
  version: number;
}

export async function startSsmServer(options: { credentials?: { accessKeyId: string; secretAccessKey: string } } = {}): Promise<SsmServer> {
  const credentials = options.credentials ?? SSM_TEST_CREDENTIALS;
  const parameters = new Map<string, Parameter>();
  const reads: string[] = [];
  let mode: SsmMode = 'ok';

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => handle(req, Buffer.concat(chunks), res));
  });

  const handle = (req: IncomingMessage, body: Buffer, res: ServerResponse): void => {
    const fail = (status: number, type: string, message: string): void => {
      res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': 'test' });
      res.end(JSON.stringify({ __type: type, message }));
    };
    if (req.method !== 'POST' || req.url !== '/') return fail(404, 'UnknownOperationException', 'not an AWS JSON 1.1 endpoint');
    const auth = checkSignature(req, body, credentials);
    if (auth !== 'ok') {
      return auth === 'unknown_key'
        ? fail(400, 'UnrecognizedClientException', 'The security token included in the request is invalid.')
        : fail(400, 'InvalidSignatureException', 'The request signature we calculated does not match the signature you provided.');
    }
    if (req.headers['x-amz-target'] !== 'AmazonSSM.GetParameter') return fail(400, 'UnknownOperationException', 'only GetParameter is implemented');
    if (!String(req.headers['content-type']).startsWith('application/x-amz-json-1.1')) return fail(400, 'SerializationException', 'wrong content type');
    const input = JSON.parse(body.toString('utf8')) as { Name?: string; WithDecryption?: boolean };
    const name = input.Name ?? '';
    reads.push(name);
    if (mode === 'hang') return; // never answers: the client's timeout or abort must end it
    if (mode === 'access_denied')
      return fail(
        400,
        'AccessDeniedException',
        `User: arn:aws:iam::123456789012:user/test is not authorized to perform: ssm:GetParameter on resource: arn:aws:ssm:us-east-1:123456789012:parameter${name}`,
      );
    if (mode === 'throttle') return fail(400, 'ThrottlingException', 'Rate exceeded');
    if (mode === 'internal_error') return fail(500, 'InternalServerError', 'internal error');
    const parameter = parameters.get(name);
    if (parameter === undefined) return fail(400, 'ParameterNotFound', '');
    const secure = parameter.type === 'SecureString';
    res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
    res.end(
      JSON.stringify({
        Parameter: {
          Name: name,
          Type: parameter.type,
          Value: secure && input.WithDecryption !== true ? 'AQICAHh-encrypted-blob' : parameter.value,
          Version: parameter.version,
          LastModifiedDate: 1_700_000_000.123,
          ARN: `arn:aws:ssm:us-east-1:123456789012:parameter${name}`,
          DataType: 'text',
        },
      }),
    );
  };

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    setParameter(name, value, type = 'SecureString') {
      const previous = parameters.get(name);
      parameters.set(name, { value, type, version: (previous?.version ?? 0) + 1 });
    },
    deleteParameter: (name) => void parameters.delete(name),
    setMode(next) {
      mode = next;
    },
    reads,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Verifies an AWS4-HMAC-SHA256 Authorization header over the exact request received. */
function checkSignature(
  req: IncomingMessage,
  body: Buffer,
  credentials: { accessKeyId: string; secretAccessKey: string },
): 'ok' | 'unknown_key' | 'bad_signature' {
  const header = req.headers.authorization ?? '';
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(
    header,
  );
  if (m === null) return 'bad_signature';
  const [, keyId, date, region, service, signedHeaders, signature] = m as unknown as [string, string, string, string, string, string, string];
  if (keyId !== credentials.accessKeyId) return 'unknown_key';
  const amzDate = String(req.headers['x-amz-date'] ?? '');
  if (!amzDate.startsWith(date) || service !== 'ssm') return 'bad_signature';
  const names = signedHeaders.split(';');
  if (!names.includes('host') || !names.includes('x-amz-date')) return 'bad_signature';
  const canonicalHeaders = names.map((n) => `${n}:${headerValue(req, n)}\n`).join('');
  const url = new URL(req.url ?? '/', 'http://localhost');
  const canonicalQuery = [...url.searchParams]
    .map(([k, v]) => `${rfc3986(k)}=${rfc3986(v)}`)
    .sort()
    .join('&');
  const canonicalRequest = [req.method, url.pathname, canonicalQuery, canonicalHeaders, signedHeaders, sha256(body)].join('\n');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonicalRequest)].join('\n');
  let key: Buffer = hmac(`AWS4${credentials.secretAccessKey}`, date);
  for (const part of [region, service, 'aws4_request']) key = hmac(key, part);
  const expected = Buffer.from(hmac(key, stringToSign).toString('hex'));
  return timingSafeEqual(expected, Buffer.from(signature)) ? 'ok' : 'bad_signature';
}

function headerValue(req: IncomingMessage, name: string): string {
  const raw = req.headers[name];
  const value = Array.isArray(raw) ? raw.join(',') : (raw ?? '');
  return value.trim().replace(/\s+/g, ' ');
}

function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

function rfc3986(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
