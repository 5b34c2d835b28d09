// SIGTERM to `modelgate serve` as a process, with a stream in flight through the official openai
// client: readiness turns 503 while new requests are still served (--shutdown-delay), then the
// listener stops accepting and the stream either completes (within --drain-timeout) or is ended at
// the drain timeout with an SSE error event and its audit line; the process exits 0.
// No claim about how fast: each step is shown by its evidence (log lines, answers, the exit).
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../support/gateway.ts';
import { leakedSecrets } from '../support/logs.ts';
import { startServeProcess } from '../support/serve-process.ts';
import { scaled } from '../support/time-scale.ts';
import { createFleetWorld, type FleetWorld, logEvents } from './fleet-world.ts';

let world: FleetWorld;
beforeAll(async () => {
  world = await createFleetWorld();
});
afterAll(async () => {
  await world.close();
});

const client = (url: string, key: string): OpenAI => new OpenAI({ baseURL: `${url}/v1`, apiKey: key, maxRetries: 0 });
/** The process listens before its first bundle is active: wait for it to be ready. */
const ready = (url: string): Promise<void> => waitFor(async () => (await fetch(`${url}/readyz`)).status === 200);

describe('when SIGTERM arrives during a stream that finishes within the drain timeout', () => {
  it('answers /readyz 503 and serves new requests during the delay, completes the stream, and exits 0', async () => {
    // The delay is a lower bound the test acts within (a busy machine only lengthens it).
    const gateway = await startServeProcess(
      [...world.serveArgs, '--shutdown-delay', `${scaled(2_000)}ms`, '--drain-timeout', `${scaled(30_000)}ms`],
      world.env,
    );
    await ready(gateway.url);
    const caller = client(gateway.url, world.keys.alice);
    const held = world.upstream.held;
    const stream = await caller.chat.completions.create({ model: 'local/slow-model', messages: [{ role: 'user', content: 'hi' }], stream: true });
    const chunks = stream[Symbol.asyncIterator]();
    expect(((await chunks.next()).value as OpenAI.ChatCompletionChunk).choices[0]?.delta.content).toBe('first ');
    await waitFor(() => world.upstream.held > held);

    gateway.signal('SIGTERM');
    await waitFor(() => logEvents(gateway.lines, 'shutdown_draining').length === 1);
    const readiness = await fetch(`${gateway.url}/readyz`);
    expect(readiness.status).toBe(503);
    expect(((await readiness.json()) as { draining: boolean }).draining).toBe(true);
    // Still served: the load balancer may not have seen the 503 yet.
    const answer = await client(gateway.url, world.keys.alice).chat.completions.create({
      model: 'local/gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(answer.choices[0]?.message.content).toContain('says hi');
    expect(logEvents(gateway.lines, 'shutdown_stopped_accepting')).toEqual([]);

    // After the delay the listener is closed: a new connection is refused, the stream goes on.
    await waitFor(() => logEvents(gateway.lines, 'shutdown_stopped_accepting').length === 1, scaled(10_000));
    await expect(fetch(`${gateway.url}/healthz`)).rejects.toThrow();
    world.upstream.release();
    const rest: string[] = [];
    for (let next = await chunks.next(); next.done !== true; next = await chunks.next()) rest.push(next.value.choices[0]?.delta.content ?? '');
    expect(rest.join('')).toBe('second');

    expect(await gateway.exited).toBe(0);
    expect(logEvents(gateway.lines, 'shutdown_drained')).toHaveLength(1);
    expect(logEvents(gateway.lines, 'shutdown_drain_timeout')).toEqual([]);
    const audits = logEvents(gateway.lines, 'audit');
    expect(audits.map((a) => [a.model, a.status, a.outcome])).toEqual([
      ['local/gpt-4o-mini', 200, 'ok'],
      ['local/slow-model', 200, 'ok'],
    ]);
    // The closing line comes last: nothing (no poll, no secret refresh) logs after it.
    expect(gateway.lines.at(-1)).toContain('"event":"shutdown_closed"');
    expect(leakedSecrets(gateway.lines, world.secrets())).toEqual([]);
  });
});

describe('when a stream is still open at the drain timeout', () => {
  it('ends it with an MG_SHUTTING_DOWN error event the SDK raises, writes its audit line, and exits 0', async () => {
    // A drain timeout the stream never meets: hang-stream sends one chunk and nothing more.
    const gateway = await startServeProcess([...world.serveArgs, '--shutdown-delay', '0', '--drain-timeout', '1s'], world.env);
    await ready(gateway.url);
    const stream = await client(gateway.url, world.keys.alice).chat.completions.create({
      model: 'local/hang-stream',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    });
    const chunks = stream[Symbol.asyncIterator]();
    expect(((await chunks.next()).value as OpenAI.ChatCompletionChunk).choices[0]?.delta.content).toBe('first ');

    gateway.signal('SIGTERM');
    const failure = await chunks.next().then(
      () => null,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(OpenAI.APIError);
    expect((failure as InstanceType<typeof OpenAI.APIError>).code).toBe('MG_SHUTTING_DOWN');

    expect(await gateway.exited).toBe(0);
    expect(logEvents(gateway.lines, 'shutdown_drain_timeout').map((e) => e.cut)).toEqual([1]);
    const audits = logEvents(gateway.lines, 'audit');
    expect(audits.map((a) => [a.model, a.status, a.code, a.outcome])).toEqual([['local/hang-stream', 200, 'MG_SHUTTING_DOWN', 'stream_failed']]);
    // The upstream call was hung up on, not left open.
    await waitFor(() => world.upstream.aborted > 0);
    expect(gateway.lines.at(-1)).toContain('"event":"shutdown_closed"');
    expect(leakedSecrets(gateway.lines, world.secrets())).toEqual([]);
  });
});

describe('when SIGTERM arrives while the gateway is still starting', () => {
  it('shuts down through the drain once started, and exits 0 (not killed by the signal)', async () => {
    // Sent at the listening line, before the first bundle fetch (and the cache write) is over.
    const gateway = await startServeProcess([...world.serveArgs, '--shutdown-delay', '0'], world.env);
    gateway.signal('SIGTERM');
    expect(await gateway.exited).toBe(0);
    expect(gateway.lines.at(-1)).toContain('"event":"shutdown_closed"');
  });
});
