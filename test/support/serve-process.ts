// `modelgate serve` as a child process, as operators run it: its log lines are collected and the
// address comes from its "listening" line.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
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

/** Starts `modelgate serve ARGS`; `bin` is another modelgate launcher (e.g. an installed package's). */
export async function startServeProcess(args: string[], env: NodeJS.ProcessEnv = {}, bin: string = BIN): Promise<ServeProcess> {
  // A cache folder of its own (the default one is per user): no test sees another's serial floor.
  const cacheHome = await mkdtemp(join(tmpdir(), 'mg-serve-cache-'));
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, [bin, 'serve', '--port', '0', ...args], {
    env: { ...process.env, MODELGATE_BUNDLE: '', MODELGATE_AUDIENCE: '', MODELGATE_CACHE_DIR: '', XDG_CACHE_HOME: cacheHome, ...env },
  });
  const lines: string[] = [];
  let partial = '';
  const collect = (chunk: Buffer): void => {
    const parts = (partial + chunk.toString('utf8')).split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts.filter((l) => l !== ''));
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code))).then(async (code) => {
    await rm(cacheHome, { recursive: true, force: true });
    return code;
  });
  try {
    await waitFor(() => lines.some((l) => l.includes('"event":"listening"')) || child.exitCode !== null, scaled(20_000));
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`serve did not start: ${lines.join('\n')}`, { cause: error });
  }
  const listening = lines.find((l) => l.includes('"event":"listening"'));
  if (listening === undefined) throw new Error(`serve exited: ${lines.join('\n')}`);
  const url = (JSON.parse(listening) as { address: string }).address;
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
