// `modelgate serve --workers 2` as a process: two workers share the API port and each writes its
// audit lines to the same stdout without cutting into another's; the admin listener of the
// primary reports the fleet (readiness of every worker, merged metrics); a worker killed is
// replaced; SIGHUP and SIGTERM reach every worker, and the fleet exits 0.
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../support/gateway.ts';
import { leakedSecrets } from '../support/logs.ts';
import { type ServeProcess, startServeProcess } from '../support/serve-process.ts';
import { scaled } from '../support/time-scale.ts';
import { createFleetWorld, type FleetWorld, logEvents } from './fleet-world.ts';

let world: FleetWorld;
let fleet: ServeProcess;
let admin: string;
beforeAll(async () => {
  world = await createFleetWorld();
  fleet = await startServeProcess([...world.serveArgs, '--workers', '2', '--admin-port', '0', '--shutdown-delay', '0'], world.env);
  admin = logEvents(fleet.lines, 'admin_listening')[0]?.address as string;
});
afterAll(async () => {
  await fleet?.stop();
  await world.close();
});

/** One chat completion on a connection of its own (so that connections spread over the workers). */
function complete(url: string, key: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ model: 'local/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
    const req = request(
      `${url}/v1/chat/completions`,
      { method: 'POST', agent: false, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode as number));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const readyz = async (): Promise<{ status: number; body: { ready: boolean; workers: { worker: number; ready: boolean }[] } }> => {
  const response = await fetch(`${admin}/readyz`);
  return { status: response.status, body: (await response.json()) as { ready: boolean; workers: { worker: number; ready: boolean }[] } };
};
const metric = async (line: RegExp): Promise<number> => Number(line.exec(await (await fetch(`${admin}/metrics`)).text())?.[1] ?? Number.NaN);

describe('when the gateway runs two workers', () => {
  it('starts both on one port and reports them ready together on the admin listener', async () => {
    await waitFor(() => logEvents(fleet.lines, 'listening').length === 2, scaled(20_000));
    const listening = logEvents(fleet.lines, 'listening');
    expect(new Set(listening.map((l) => l.address))).toEqual(new Set([fleet.url]));
    expect(new Set(listening.map((l) => l.worker_pid)).size).toBe(2);
    await waitFor(async () => (await readyz()).status === 200, scaled(20_000));
    expect((await readyz()).body.workers).toHaveLength(2);
    expect(await metric(/^modelgate_workers (\d+)$/m)).toBe(2);
  });

  it('serves and audits concurrent requests, one whole line each, and counts them in the merged metrics', async () => {
    const before = logEvents(fleet.lines, 'audit').length;
    const statuses = await Promise.all(Array.from({ length: 60 }, () => complete(fleet.url, world.keys.alice)));
    expect(statuses.every((s) => s === 200)).toBe(true);
    await waitFor(() => logEvents(fleet.lines, 'audit').length === before + 60);
    // Every output line is one whole JSON object: logEvents parsed each of them.
    expect(fleet.lines.every((l) => l.startsWith('{') && l.endsWith('}'))).toBe(true);
    expect(await metric(/^modelgate_requests_total\{[^}]*model="local\/gpt-4o-mini"[^}]*status="200"[^}]*\} (\d+)$/m)).toBe(before + 60);
  });

  it('replaces a worker that dies, and keeps serving meanwhile', async () => {
    const victim = logEvents(fleet.lines, 'listening')[0]?.worker_pid as number;
    process.kill(victim, 'SIGKILL');
    await waitFor(() => logEvents(fleet.lines, 'worker_exited').length === 1);
    expect(await complete(fleet.url, world.keys.alice)).toBe(200);
    await waitFor(() => logEvents(fleet.lines, 'listening').length === 3, scaled(20_000));
    await waitFor(async () => (await readyz()).status === 200, scaled(20_000));
    expect(await metric(/^modelgate_worker_restarts_total (\d+)$/m)).toBe(1);
  });

  it('passes SIGHUP to every worker', async () => {
    const reloads = logEvents(fleet.lines, 'reload').length;
    fleet.signal('SIGHUP');
    // The primary's line and one per worker.
    // The guard of the other fleet waits: on a busy machine a worker's signal handler may run late.
    await waitFor(() => logEvents(fleet.lines, 'reload').length === reloads + 3, scaled(20_000));
  });

  it('passes SIGTERM to every worker, each drains, and the fleet exits 0', async () => {
    fleet.signal('SIGTERM');
    expect(await fleet.exited).toBe(0);
    // Two workers' closing lines, then the primary's.
    expect(logEvents(fleet.lines, 'shutdown_closed')).toHaveLength(3);
    expect(fleet.lines.at(-1)).toContain('every worker has exited');
    expect(leakedSecrets(fleet.lines, world.secrets())).toEqual([]);
  });
});
