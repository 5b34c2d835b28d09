// A real redis-server (Debian's) on a free loopback port, no persistence, for one test file:
// started, waited for (PING), stopped by its PID. `redis-server` must be installed (.ci/run does).
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { waitFor } from './gateway.ts';
import { freePort } from './serve-process.ts';
import { scaled } from './time-scale.ts';

export interface RedisOptions {
  /** Require this password (AUTH default PASSWORD; in the URL as redis://:PASSWORD@...). */
  password?: string;
  /** TLS only (no plain port): the server's certificate and key, also the CA, written under dir. */
  tls?: { key: string; cert: string; dir: string };
}

export interface RedisServer {
  /** redis:// or rediss:// with the password, on 127.0.0.1. */
  url: string;
  /** The CA file of a TLS server (NODE_EXTRA_CA_CERTS for a gateway). */
  caFile: string | null;
  port: number;
  /** Stops it (SIGTERM) and waits for the exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port (empty: no persistence). */
  restart(): Promise<void>;
  /** Sends a signal to the server process (SIGSTOP: it hangs with its connections open; SIGCONT). */
  signal(name: NodeJS.Signals): void;
  /** Sends one command (inline protocol) and returns the raw reply. */
  command(line: string): Promise<string>;
}

function send(port: number, line: string, options: RedisOptions = {}, caFile: string | null = null): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket =
      caFile === null ? createConnection({ host: '127.0.0.1', port }) : tlsConnect({ host: '127.0.0.1', port, ca: options.tls?.cert, servername: 'localhost' });
    let reply = '';
    let authed = options.password === undefined;
    socket.setTimeout(scaled(2_000), () => socket.destroy(new Error('redis did not answer')));
    socket.on(caFile === null ? 'connect' : 'secureConnect', () => socket.write(authed ? `${line}\r\n` : `AUTH ${options.password}\r\n`));
    socket.on('data', (chunk) => {
      if (!authed) {
        authed = true;
        return void socket.write(`${line}\r\n`);
      }
      reply += chunk.toString('utf8');
      if (reply.endsWith('\r\n')) socket.end();
    });
    socket.on('close', () => resolve(reply));
    socket.on('error', reject);
  });
}

export async function startRedis(options: RedisOptions = {}): Promise<RedisServer> {
  const port = await freePort();
  let child: ChildProcess | null = null;
  let caFile: string | null = null;
  const args = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  if (options.password !== undefined) args.push('--requirepass', options.password);
  if (options.tls === undefined) args.push('--port', String(port));
  else {
    caFile = join(options.tls.dir, 'redis-cert.pem');
    const keyFile = join(options.tls.dir, 'redis-key.pem');
    writeFileSync(caFile, options.tls.cert);
    writeFileSync(keyFile, options.tls.key, { mode: 0o600 });
    args.push('--port', '0', '--tls-port', String(port), '--tls-cert-file', caFile, '--tls-key-file', keyFile, '--tls-auth-clients', 'no');
  }
  const start = async (): Promise<void> => {
    const proc = spawn('redis-server', args, { stdio: 'ignore' });
    child = proc;
    await waitFor(async () => (await send(port, 'PING', options, caFile).catch(() => '')).startsWith('+PONG'), scaled(10_000));
  };
  await start();
  return {
    url: `${options.tls === undefined ? 'redis' : 'rediss'}://${options.password === undefined ? '' : `:${encodeURIComponent(options.password)}@`}127.0.0.1:${port}`,
    caFile,
    port,
    async stop() {
      const proc = child;
      if (proc === null || proc.exitCode !== null) return;
      const exited = new Promise((resolve) => proc.once('exit', resolve));
      proc.kill('SIGTERM');
      await exited;
      child = null;
    },
    restart: start,
    signal(name) {
      (child as ChildProcess | null)?.kill(name);
    },
    command: (line) => send(port, line, options, caFile),
  };
}

/** Resolves once a limits store answers a check (a Redis store connects in the background). */
export async function untilAnswering(store: { check(checks: readonly never[]): unknown }): Promise<void> {
  await waitFor(async () => {
    try {
      await store.check([]);
      return true;
    } catch {
      return false;
    }
  });
}
