// `modelgate serve` as a child process, as operators run it: its log lines are collected and the
// address comes from its "listening" line.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkAuditLine } from './audit-schema.ts';
import { waitFor } from './gateway.ts';
import { scaled } from './time-scale.ts';

const BIN = fileURLToPath(new URL('../../bin/modelgate.js', import.meta.url));

export interface ServeProcess {
  url: string;
  lines: string[];
  /** Sends a signal (SIGTERM starts the graceful shutdown, SIGHUP reloads). */
  signal(name: NodeJS.Signals): void;
  /** The exit code once the process has exited (null when a signal ended it). */
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

export interface ServeOptions {
  /**
   * Listen on this port and wait for GET /healthz instead of the "listening" line (which an
   * operations log at --log-level warn or above does not write).
   */
  port?: number;
  /** Node options before the launcher (V8 flags such as --max-old-space-size). */
  nodeArgs?: string[];
}

/** Starts `modelgate serve ARGS`; `bin` is another modelgate launcher (e.g. an installed package's). */
export async function startServeProcess(args: string[], env: NodeJS.ProcessEnv = {}, bin: string = BIN, options: ServeOptions = {}): Promise<ServeProcess> {
  // A cache folder of its own (the default one is per user): no test sees another's serial floor.
  const cacheHome = await mkdtemp(join(tmpdir(), 'mg-serve-cache-'));
  const child: ChildProcessWithoutNullStreams = spawn(
    process.execPath,
    [...(options.nodeArgs ?? []), bin, 'serve', '--port', String(options.port ?? 0), ...args],
    {
      env: { ...process.env, MODELGATE_BUNDLE: '', MODELGATE_AUDIENCE: '', MODELGATE_CACHE_DIR: '', XDG_CACHE_HOME: cacheHome, ...env },
    },
  );
  const lines: string[] = [];
  // One partial line per stream: a chunk of stderr must not end up in the middle of a stdout line.
  const collector = (): ((chunk: Buffer) => void) => {
    let partial = '';
    return (chunk) => {
      const parts = (partial + chunk.toString('utf8')).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) {
        if (line === '') continue;
        lines.push(line);
        if (line.includes('"audit":true')) checkAuditLine(line);
      }
    };
  };
  child.stdout.on('data', collector());
  child.stderr.on('data', collector());
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code))).then(async (code) => {
    await rm(cacheHome, { recursive: true, force: true });
    return code;
  });
  const fixed = options.port === undefined ? undefined : `http://127.0.0.1:${options.port}`;
  const healthy = async (): Promise<boolean> => {
    if (child.exitCode !== null) return true;
    return fetch(`${fixed}/healthz`).then(
      (res) => res.ok,
      () => false,
    );
  };
  try {
    await waitFor(() => (fixed !== undefined ? healthy() : lines.some((l) => l.includes('"event":"listening"')) || child.exitCode !== null), scaled(20_000));
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`serve did not start: ${lines.join('\n')}`, { cause: error });
  }
  if (child.exitCode !== null) throw new Error(`serve exited: ${lines.join('\n')}`);
  let url = fixed;
  if (url === undefined) {
    const listening = lines.find((l) => l.includes('"event":"listening"'));
    if (listening === undefined) throw new Error(`serve exited: ${lines.join('\n')}`);
    url = (JSON.parse(listening) as { address: string }).address;
  }
  return {
    url,
    lines,
    signal: (name) => void child.kill(name),
    exited,
    // SIGINT: the drain without the readiness delay (no load balancer to wait for here).
    async stop() {
      child.kill('SIGINT');
      await exited;
    },
  };
}

/** A port that was free a moment ago (for a process that must be told its port in advance). */
export async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
