// Bundles activating while the official openai client keeps calling: activation runs on the
// activation worker (runtime/bundle/off-thread.ts) and the request path swaps one reference, so
// every request is decided by one whole bundle, the old or the new: never an error, never a mix.
// Bob's grant flips with each serial (even: granted, odd: not), so the audit line of each of his
// requests says which bundle decided it, and the answer must be that bundle's answer. How long a
// swap delays requests is measured by `npm run bench:swap`, not asserted here.
import { generateKeyPairSync } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import OpenAI, { PermissionDeniedError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../support/gateway.ts';
import { leakedSecrets } from '../support/logs.ts';
import { buildBundle } from '../support/policies.ts';
import { scaled } from '../support/time-scale.ts';
import { createWorld, type World } from '../support/world.ts';

const LAST_SERIAL = 6;
let world: World;
const client = (key: string): OpenAI => new OpenAI({ baseURL: `${world.gateway.url}/v1`, apiKey: key, maxRetries: 0, timeout: scaled(10_000) });
const granted = (serial: number): boolean => serial % 2 === 0;
const treeFor = (serial: number) => (granted(serial) ? { bobGrantExpires: new Date(Date.now() + 86_400_000).toISOString() } : {});

interface Traffic {
  stop(): Promise<void>;
  /** What the client saw: 200, 403, or the error's text. */
  answers: { who: 'bob' | 'llmapp1'; outcome: string }[];
}

function steadyTraffic(): Traffic {
  const answers: Traffic['answers'] = [];
  let running = true;
  const loop = async (who: 'bob' | 'llmapp1'): Promise<void> => {
    const openai = client(world.keys[who]);
    const model = who === 'bob' ? 'local/gpt-4o-mini' : 'azure/gpt-4o';
    while (running) {
      try {
        await openai.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] });
        answers.push({ who, outcome: '200' });
      } catch (error) {
        answers.push({ who, outcome: error instanceof PermissionDeniedError ? '403' : String(error) });
      }
    }
  };
  const loops = [loop('bob'), loop('bob'), loop('bob'), loop('llmapp1'), loop('llmapp1'), loop('llmapp1')];
  return {
    answers,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

const requestLines = (principal: string) => world.gateway.logs.entries('request').filter((e) => e.principal === principal);

describe('swaps under load', () => {
  beforeAll(async () => {
    world = await createWorld();
  });
  afterAll(async () => {
    await world?.close();
  });

  describe('when several bundles activate while the openai client keeps calling', () => {
    it('decides every request by the old or the new bundle, whole, and fails none', async () => {
      const traffic = steadyTraffic();
      const servedBy = (serial: number): number => world.gateway.logs.entries('request').filter((e) => e.bundle_serial === serial).length;
      await waitFor(() => servedBy(1) >= 10);
      for (let serial = 2; serial <= LAST_SERIAL; serial++) {
        await world.publish(serial, treeFor(serial));
        expect(await world.gateway.lifecycle.refresh()).toBe('activated');
        expect(world.gateway.lifecycle.current?.serial).toBe(serial);
        await waitFor(() => servedBy(serial) >= 10);
      }
      await traffic.stop();

      expect(traffic.answers.filter((a) => a.outcome !== '200' && a.outcome !== '403')).toEqual([]);
      expect(traffic.answers.filter((a) => a.who === 'llmapp1' && a.outcome !== '200')).toEqual([]);
      const bob = requestLines('bob');
      // Each of bob's answers is the answer of the bundle that its audit line names.
      expect(new Set(bob.map((e) => e.status))).toEqual(new Set([200, 403]));
      const mismatched = bob.filter((e) => (e.status === 200) !== granted(e.bundle_serial as number));
      expect(mismatched).toEqual([]);
      expect(bob.filter((e) => e.status === 403).every((e) => e.deny_reason === 'no_grant')).toBe(true);
      expect(bob.filter((e) => e.status === 200).length).toBe(traffic.answers.filter((a) => a.who === 'bob' && a.outcome === '200').length);
      expect(bob.filter((e) => e.status === 403).length).toBe(traffic.answers.filter((a) => a.who === 'bob' && a.outcome === '403').length);
      expect(new Set(requestLines('service:llmapp1').map((e) => e.status))).toEqual(new Set([200]));
      expect(new Set(world.gateway.logs.entries('request').map((e) => e.bundle_serial))).toEqual(new Set([1, 2, 3, 4, 5, 6]));
    });
  });

  describe('when a bundle refused in the worker arrives under load', () => {
    it('keeps the active bundle serving, and reports the refusal as before (status, log, metric)', async () => {
      const traffic = steadyTraffic();
      const before = world.gateway.logs.entries('request').length;
      await waitFor(() => world.gateway.logs.entries('request').length >= before + 10);
      const stranger = generateKeyPairSync('ed25519');
      await writeFile(world.bundlePath, await buildBundle(world.policies, LAST_SERIAL + 1, stranger.privateKey));
      expect(await world.gateway.lifecycle.refresh()).toBe('rejected');
      const after = world.gateway.logs.entries('request').length;
      await waitFor(() => world.gateway.logs.entries('request').length >= after + 10);
      await traffic.stop();

      expect(world.gateway.lifecycle.current?.serial).toBe(LAST_SERIAL);
      expect(world.gateway.lifecycle.status.lastError?.code).toBe('MG_BUNDLE_BAD_SIGNATURE');
      expect(world.gateway.logs.entries().filter((e) => e.event === 'bundle_rejected')).toEqual([
        expect.objectContaining({ origin: 'source', code: 'MG_BUNDLE_BAD_SIGNATURE', active_serial: LAST_SERIAL }),
      ]);
      expect(await world.gateway.metrics.render()).toMatch(/modelgate_bundle_rejections_total\{code="MG_BUNDLE_BAD_SIGNATURE"\} 1/);
      expect(traffic.answers.filter((a) => a.outcome !== '200')).toEqual([]);
      expect(
        new Set(
          world.gateway.logs
            .entries('request')
            .slice(before)
            .map((e) => e.bundle_serial),
        ),
      ).toEqual(new Set([LAST_SERIAL]));
    });
  });

  describe('when the suite is over', () => {
    it('never wrote a key or root secret into any log line', () => {
      expect(leakedSecrets(world.gateway.logs.lines, world.secrets())).toEqual([]);
    });
  });
});
