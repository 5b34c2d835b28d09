// The audit stream of `modelgate serve`, as operators run it (issue 12): independent of
// --log-level, to a file that logrotate can move (SIGHUP), complete across a SIGTERM with requests
// in flight, and with --audit-required a gateway that refuses rather than serve unrecorded.
// The official openai client is the caller.
import { existsSync, mkdirSync } from 'node:fs';
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI, { APIError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintApiKey } from '../../schemas/formats/api-key.ts';
import { checkAuditLine } from '../support/audit-schema.ts';
import { signingPair, waitFor } from '../support/gateway.ts';
import { AUDIENCE, buildBundle, mintTestKeys, type TestKeys, writePolicyTree } from '../support/policies.ts';
import { freePort, type ServeProcess, startServeProcess } from '../support/serve-process.ts';
import { scaled } from '../support/time-scale.ts';
import { startUpstream, type Upstream } from '../support/upstream.ts';

const ROOT_KEY = 'sk-audit-e2e-root-key-0123456789abcdef';
const KEY_VAR = 'MG_AUDIT_E2E_ROOT_KEY';
let dir: string;
let keys: TestKeys;
let upstream: Upstream;
let common: string[];
const running: ServeProcess[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mg-audit-serve-'));
  keys = mintTestKeys();
  upstream = await startUpstream({ openaiKey: ROOT_KEY, azureKey: 'unused' });
  const signer = signingPair();
  await writePolicyTree(join(dir, 'p'), keys, { upstreamUrl: upstream.url, azureKeyFile: join(dir, 'none'), openaiKeyVar: KEY_VAR });
  await writeFile(join(dir, 'public.pem'), signer.publicKey.export({ type: 'spki', format: 'pem' }));
  await writeFile(join(dir, 'bundle.json'), await buildBundle(join(dir, 'p'), 1, signer.privateKey));
  common = ['--bundle', join(dir, 'bundle.json'), '--public-key', join(dir, 'public.pem'), '--audience', AUDIENCE, '--poll', '1h'];
});
afterAll(async () => {
  await Promise.all(running.map((p) => p.stop()));
  await upstream?.close();
  await rm(dir, { recursive: true, force: true });
});

async function serve(args: string[], port?: number): Promise<ServeProcess> {
  const process = await startServeProcess([...common, ...args], { [KEY_VAR]: ROOT_KEY }, undefined, port === undefined ? {} : { port });
  running.push(process);
  // Listening comes before the first bundle download: wait until one is active.
  await waitFor(async () => (await fetch(`${process.url}/readyz`)).ok);
  return process;
}

const client = (gateway: ServeProcess, key = keys.alice): OpenAI =>
  new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: key, maxRetries: 0, timeout: scaled(20_000) });

const ask = { model: 'local/gpt-4o-mini', messages: [{ role: 'user' as const, content: 'hello' }] };

/** The request ids of an audit file's lines, each line checked against the schema. */
async function fileIds(path: string): Promise<string[]> {
  const text = existsSync(path) ? await readFile(path, 'utf8') : '';
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      checkAuditLine(l);
      return (JSON.parse(l) as { request_id: string }).request_id;
    });
}

/** Answered request ids (any status), or null when no HTTP answer came. */
async function call(gateway: ServeProcess, id: string, model = 'local/gpt-4o-mini', key = keys.alice): Promise<{ id: string; status: number } | null> {
  try {
    await client(gateway, key).chat.completions.create({ ...ask, model }, { headers: { 'x-request-id': id } });
    return { id, status: 200 };
  } catch (error) {
    return error instanceof APIError && error.status !== undefined ? { id, status: error.status } : null;
  }
}

describe('when the operations log is at --log-level error', () => {
  it('still writes the audit line of a 200 and of a 401 (to stdout, the default)', async () => {
    const gateway = await serve(['--log-level', 'error'], await freePort());
    const ok = await call(gateway, 'quiet-200');
    const refused = await call(gateway, 'quiet-401', 'local/gpt-4o-mini', mintApiKey().key);
    expect(ok?.status).toBe(200);
    expect(refused?.status).toBe(401);
    const audit = (): Record<string, unknown>[] => gateway.lines.filter((l) => l.includes('"audit":true')).map((l) => JSON.parse(l) as Record<string, unknown>);
    await waitFor(() => audit().length >= 2);
    expect(audit().map((l) => [l.request_id, l.status])).toEqual([
      ['quiet-200', 200],
      ['quiet-401', 401],
    ]);
    // The operations log did obey its level: no info line but the audit lines.
    expect(gateway.lines.filter((l) => !l.includes('"audit":true') && l.includes('"level":"info"'))).toEqual([]);
  });
});

describe('when the audit log is a file', () => {
  let gateway: ServeProcess;
  let path: string;
  beforeAll(async () => {
    path = join(dir, 'audit.log');
    gateway = await serve(['--audit-log', path]);
  });

  it('writes audit lines there and only there, and reopens it on SIGHUP after a rename', async () => {
    for (const id of ['file-1', 'file-2', 'file-3']) expect((await call(gateway, id))?.status).toBe(200);
    await waitFor(async () => (await fileIds(path)).length === 3);
    expect(gateway.lines.filter((l) => l.includes('"audit":true'))).toEqual([]);
    await rename(path, `${path}.1`);
    gateway.signal('SIGHUP');
    await waitFor(() => existsSync(path));
    for (const id of ['file-4', 'file-5']) expect((await call(gateway, id))?.status).toBe(200);
    await waitFor(async () => (await fileIds(path)).length === 2);
    expect(await fileIds(`${path}.1`)).toEqual(['file-1', 'file-2', 'file-3']);
    expect(await fileIds(path)).toEqual(['file-4', 'file-5']);
  });

  it('loses no audit line when SIGTERM arrives with requests in flight, and exits once they are answered', async () => {
    upstream.delayMs = 400;
    const before = (await fileIds(path)).length;
    const slow = Array.from({ length: 12 }, (_, i) => call(gateway, `term-slow-${i}`, 'local/slow-model'));
    await waitFor(() => upstream.open.size >= 6);
    gateway.signal('SIGTERM');
    // Sent during the shutdown: refused at the socket (no answer, no line) or answered 503 (a line).
    const late = Array.from({ length: 12 }, (_, i) => call(gateway, `term-late-${i}`));
    const answers = (await Promise.all([...slow, ...late])).filter((a) => a !== null);
    expect(await gateway.exited).toBe(0);
    const written = (await fileIds(path)).slice(before);
    // Requests in flight at the signal finished (200), and every answered request has exactly one line.
    expect(answers.filter((a) => a.id.startsWith('term-slow') && a.status === 200).length).toBeGreaterThanOrEqual(6);
    for (const answer of answers) expect(written.filter((id) => id === answer.id)).toEqual([answer.id]);
    expect(new Set(written).size).toBe(written.length);
  });
});

describe('when --audit-required and the audit log cannot be written', () => {
  it('refuses model requests with 503 MG_AUDIT_UNAVAILABLE, loudly, until the log writes again', async () => {
    const missing = join(dir, 'not-there-yet');
    const path = join(missing, 'audit.log');
    const gateway = await serve(['--audit-log', path, '--audit-required']);
    const error = (await client(gateway)
      .chat.completions.create(ask, { headers: { 'x-request-id': 'required-1' } })
      .catch((e: unknown) => e)) as APIError;
    expect(error).toBeInstanceOf(APIError);
    expect(error.status).toBe(503);
    expect(error.code).toBe('MG_AUDIT_UNAVAILABLE');
    expect(upstream.received.some((r) => r.headers['x-request-id'] === 'required-1')).toBe(false);
    await waitFor(async () => /^modelgate_audit_write_errors_total [1-9]/m.test(await (await fetch(`${gateway.url}/metrics`)).text()));
    expect(await (await fetch(`${gateway.url}/metrics`)).text()).toMatch(/^modelgate_audit_log_healthy 0$/m);
    const failed = gateway.lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.event === 'audit_write_failed');
    expect(failed).toMatchObject({ level: 'error', reason: 'ENOENT', audit_required: true });

    // The destination comes back: a refusal's own line gets written, and requests are served again.
    mkdirSync(missing);
    let n = 0;
    await waitFor(async () => (await call(gateway, `required-retry-${++n}`))?.status === 200);
    // Nothing was lost meanwhile: the first refusal's line was kept and written.
    await waitFor(async () => (await fileIds(path)).includes(`required-retry-${n}`));
    expect((await fileIds(path))[0]).toBe('required-1');
  });
});
