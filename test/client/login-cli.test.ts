// `modelgate login` and `modelgate token` as a person uses them, against a real OpenID Provider.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type OidcIssuer, startOidcIssuer } from '../support/oidc-issuer.ts';
import { runCli } from '../support/run-cli.ts';
import { scaled } from '../support/time-scale.ts';

const BIN = fileURLToPath(new URL('../../bin/modelgate.js', import.meta.url));
let idp: OidcIssuer;
let home: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  idp = await startOidcIssuer({
    clients: [
      {
        client_id: 'modelgate-cli',
        token_endpoint_auth_method: 'none',
        grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
        redirect_uris: [],
        response_types: [],
      } as never,
    ],
  });
  home = await mkdtemp(join(tmpdir(), 'mg-login-'));
  env = { XDG_CONFIG_HOME: join(home, 'config'), MODELGATE_ISSUER: idp.issuer, MODELGATE_CLIENT_ID: 'modelgate-cli' };
});
afterAll(async () => {
  await idp.close();
  await rm(home, { recursive: true, force: true });
});

function login(): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, 'login', '--scope', 'openid offline_access llm'], {
      env: { ...process.env, ...env },
      timeout: scaled(20_000),
      killSignal: 'SIGKILL',
    });
    let stderr = '';
    let approving = false;
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const code = /enter the code: (\S+)/.exec(stderr)?.[1];
      if (code !== undefined && !approving) {
        approving = true;
        void idp.approveDevice(code);
      }
    });
    child.on('exit', (code) => resolve({ code: code ?? 1, stderr }));
  });
}

describe('modelgate login', () => {
  it('runs the device flow and stores only a refresh token, in a 0600 file', async () => {
    idp.signInAs('bob');
    const result = await login();
    expect(result.stderr).toContain('Logged in');
    expect(result.code).toBe(0);
    const path = join(home, 'config', 'modelgate', 'credentials.json');
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const stored = JSON.parse(await readFile(path, 'utf8')) as Record<string, string>;
    expect(Object.keys(stored).sort()).toEqual(['client_id', 'issuer', 'refresh_token', 'scope']);
  });

  it('then `modelgate token` prints a fresh access token and rotates the stored refresh token', async () => {
    const path = join(home, 'config', 'modelgate', 'credentials.json');
    const before = JSON.parse(await readFile(path, 'utf8')) as { refresh_token: string };
    const result = await runCli(['token'], { env });
    expect(result.code).toBe(0);
    expect(decodeJwt(result.stdout.trim())).toMatchObject({ sub: 'bob', aud: 'modelgate' });
    const after = JSON.parse(await readFile(path, 'utf8')) as { refresh_token: string };
    expect(after.refresh_token).not.toBe(before.refresh_token);
    expect((await runCli(['token'], { env })).code).toBe(0);
  });

  it('fails `modelgate token` with exit 2 and a hint when nobody logged in', async () => {
    const result = await runCli(['token'], { env: { XDG_CONFIG_HOME: join(home, 'nobody') } });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('modelgate login');
  });
});
