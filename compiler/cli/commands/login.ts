import { chmod, mkdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { createTokenSource, TokenError, type TokenSource } from '../../../client/index.ts';
import { writeFileAtomic } from '../../../schemas/io/write-atomic.ts';
import { parse } from '../args.ts';
import type { Command } from '../command.ts';
import { EnvironmentError, failure, UsageError } from '../errors.ts';
import { printJson } from '../output.ts';

interface StoredLogin {
  issuer: string;
  client_id: string;
  scope?: string;
  resource?: string;
  refresh_token: string;
}

/** $MODELGATE_CREDENTIALS, else $XDG_CONFIG_HOME/modelgate/credentials.json, else ~/.config/modelgate/credentials.json. */
function credentialsPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.MODELGATE_CREDENTIALS) return env.MODELGATE_CREDENTIALS;
  return join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'modelgate', 'credentials.json');
}

// The refresh token is a credential: the file is created 0600 in a 0700 folder, written atomically.
async function store(login: StoredLogin): Promise<void> {
  const path = credentialsPath();
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFileAtomic(path, JSON.stringify(login, null, 2) + '\n', 0o600);
  // Exactly 0600 whatever the umask.
  await chmod(path, 0o600);
}

async function load(): Promise<StoredLogin> {
  const path = credentialsPath();
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new EnvironmentError(`not logged in (no ${path}); run \`modelgate login\``);
  }
  const login = JSON.parse(text) as Partial<StoredLogin>;
  if (typeof login.issuer !== 'string' || typeof login.client_id !== 'string' || typeof login.refresh_token !== 'string') {
    throw new EnvironmentError(`${path} is not a modelgate login; run \`modelgate login\` again`);
  }
  return login as StoredLogin;
}

// The provider's refusal is the answer (exit 1), printed as `PREFIX: CODE: message`.
async function firstToken(source: TokenSource, prefix: string): Promise<string> {
  try {
    return await source.getToken();
  } catch (error) {
    if (error instanceof TokenError) throw failure('MG_CLI_LOGIN_FAILED', `${prefix}: ${error.code}: ${error.message}`, { show: 'message-only', cause: error });
    throw error;
  }
}

const LOGIN_OPTIONS = {
  issuer: { type: 'string' },
  'client-id': { type: 'string' },
  scope: { type: 'string' },
  resource: { type: 'string' },
} as const;

export const loginCommand: Command = {
  name: 'login',
  summary: 'sign in with the OIDC device flow; keep a refresh token for `modelgate token`',
  usage: `modelgate login --issuer URL --client-id ID [--scope S] [--resource R]

Starts the OAuth 2.0 device authorization grant: prints a URL and a code to enter there. Once you
approve, the refresh token is stored in ${'$XDG_CONFIG_HOME/modelgate/credentials.json'} (mode 0600;
override with MODELGATE_CREDENTIALS). The access token is never stored.

  --issuer URL      the OpenID Provider (env MODELGATE_ISSUER)
  --client-id ID    the public client registered for the CLI (env MODELGATE_CLIENT_ID)
  --scope S         default: "openid offline_access"
  --resource R      RFC 8707 resource indicator for the gateway, if your provider needs one`,
  async run(args) {
    const { values, json } = parse(args, LOGIN_OPTIONS);
    const issuer = values.issuer ?? process.env.MODELGATE_ISSUER;
    const clientId = values['client-id'] ?? process.env.MODELGATE_CLIENT_ID;
    if (!issuer) throw new UsageError('--issuer (or MODELGATE_ISSUER) is required');
    if (!clientId) throw new UsageError('--client-id (or MODELGATE_CLIENT_ID) is required');
    const scope = values.scope ?? 'openid offline_access';
    let refreshToken: string | undefined;
    const options = {
      issuer,
      clientId,
      flow: 'device' as const,
      scope,
      onRefreshToken: (token: string) => {
        refreshToken = token;
      },
      onPrompt: (prompt: { verificationUri: string; verificationUriComplete?: string; userCode: string }) => {
        process.stderr.write(
          `Open ${prompt.verificationUriComplete ?? prompt.verificationUri}\nand enter the code: ${prompt.userCode}\nWaiting for approval...\n`,
        );
      },
      ...(values.resource === undefined ? {} : { resource: values.resource }),
    };
    await firstToken(createTokenSource(options), 'login failed');
    if (refreshToken === undefined) {
      throw failure(
        'MG_CLI_LOGIN_FAILED',
        'login failed: the provider issued no refresh token (does the client allow refresh_token and the offline_access scope?)',
        { show: 'message-only' },
      );
    }
    const login: StoredLogin = { issuer, client_id: clientId, scope, refresh_token: refreshToken };
    if (values.resource !== undefined) login.resource = values.resource;
    await store(login);
    if (json) printJson({ ok: true, credentials: credentialsPath() });
    else process.stderr.write(`Logged in. Credentials stored in ${credentialsPath()}\n`);
    return 0;
  },
};

export const tokenCommand: Command = {
  name: 'token',
  summary: 'print a fresh access token (after `modelgate login`), for scripts',
  usage: `modelgate token

Uses the stored refresh token to get a fresh access token and prints it on stdout. The provider
rotates refresh tokens; the new one replaces the stored one. Never prompts: when the login has
lapsed, exit 1 with a hint to run \`modelgate login\`.

  curl -H "Authorization: Bearer $(npx modelgate token)" http://127.0.0.1:8080/v1/models`,
  async run(args) {
    parse(args, {});
    const login = await load();
    const options = {
      issuer: login.issuer,
      clientId: login.client_id,
      flow: 'device' as const,
      interactive: false,
      refreshToken: login.refresh_token,
      onRefreshToken: (token: string) => store({ ...login, refresh_token: token }),
      ...(login.scope === undefined ? {} : { scope: login.scope }),
      ...(login.resource === undefined ? {} : { resource: login.resource }),
    };
    process.stdout.write(`${await firstToken(createTokenSource(options), 'modelgate token')}\n`);
    return 0;
  },
};
