// A real redis-server (Debian's) on a free loopback port, no persistence, for one test file:
// started, waited for (PING), stopped by its PID. `redis-server` must be installed (.ci/run does).
import { type ChildProcess, spawn } from 'node:child_process';
import { createConnection } from 'node:net';
import { waitFor } from './gateway.ts';
import { freePort } from './serve-process.ts';
import { scaled } from './time-scale.ts';

export interface RedisServer {
  url: string;
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

function send(port: number, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    socket.setTimeout(scaled(2_000), () => socket.destroy(new Error('redis did not answer')));
    socket.on('connect', () => socket.write(`${line}\r\n`));
    socket.on('data', (chunk) => {
      reply += chunk.toString('utf8');
      if (reply.endsWith('\r\n')) socket.end();
    });
    socket.on('close', () => resolve(reply));
    socket.on('error', reject);
  });
}

export async function startRedis(): Promise<RedisServer> {
  const port = await freePort();
  let child: ChildProcess | null = null;
  const start = async (): Promise<void> => {
    const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    child = proc;
    await waitFor(async () => (await send(port, 'PING').catch(() => '')).startsWith('+PONG'), scaled(10_000));
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
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
    command: (line) => send(port, line),
  };
}
