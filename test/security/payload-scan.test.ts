// The activation worker's fast path (runtime/bundle/payload-scan.ts) against JSON.parse and the
// schema, the path it stands in for: on compiled payloads it must read the long lists itself and
// build the very tables compactBundle builds from the parsed objects; on anything else (a payload
// no compiler writes, and thousands of corrupted payloads) the outcome must be the same as the
// slow path's, tables or refusal code and message alike.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { buildPayload } from '../../compiler/bundle/build-payload.ts';
import { analyzeFiles } from '../../compiler/io/analyze-folder.ts';
import { type CompactBundle, compactBundle, compactParsed, parseForActivation } from '../../runtime/bundle/compact.ts';
import { scanPayload } from '../../runtime/bundle/payload-scan.ts';
import { BundleError } from '../../schemas/bundle/bundle-error.ts';
import { parsePayload } from '../../schemas/bundle/verify.ts';
import type { BundlePayload } from '../../schemas/types.generated.ts';
import { generatePolicies } from '../bench/generate-policies.ts';
import { mulberry32 } from '../support/prng.ts';

type Outcome = CompactBundle | string;

const signed = (payloadBytes: Buffer) => ({ payloadBytes, digest: createHash('sha256').update(payloadBytes).digest('hex'), keyid: 'k' });

function refusal(error: unknown): string {
  if (error instanceof BundleError) return `${error.code}: ${error.message}`;
  throw error;
}

/** What the activation worker makes of the payload bytes. */
function fast(bytes: Buffer): Outcome {
  try {
    return compactParsed(parseForActivation(signed(bytes)));
  } catch (error) {
    return refusal(error);
  }
}

/** What JSON.parse, the schema and compactBundle make of them. */
function slow(bytes: Buffer): Outcome {
  try {
    const { digest, keyid } = signed(bytes);
    return compactBundle({ payload: parsePayload(bytes), digest, keyid });
  } catch (error) {
    return refusal(error);
  }
}

/** A compiled payload, with every optional principal and key field the compiler may write set on some. */
async function compiled(seed: number): Promise<BundlePayload> {
  const generated = generatePolicies({
    seed,
    accounts: 3,
    modelsPerAccount: 6,
    users: 40,
    teams: 6,
    services: 5,
    rules: 30,
    keys: 60,
    disabledRate: 0.1,
    expiringRate: 0.4,
    rulesPerFile: 10,
  });
  const analysis = await analyzeFiles(generated.files, { now: generated.now });
  if (analysis.model === null) throw new Error(`seed ${seed} did not compile`);
  const payload = buildPayload(analysis.model, { serial: 1, revision: `seed-${seed}`, createdAt: generated.now });
  const random = mulberry32(seed);
  payload.limit_classes = [[0], [0, 1]];
  // Two users share a subject (user 3 takes user 1's): the later one wins the lookup.
  let user = -1;
  let shared: string | undefined;
  payload.principals = payload.principals.map((p) => {
    // Rebuilt in the compiler's field order (build-payload.ts), as JSON.stringify writes it.
    const out: BundlePayload['principals'][number] = { id: p.id, name: p.name, kind: p.kind, access_class: p.access_class };
    if (p.teams !== undefined) out.teams = p.teams;
    // Names and subjects beyond ASCII: two-, three- and four-byte UTF-8 (a UTF-16 surrogate pair).
    if (random.chance(0.2)) out.name = `${p.name}-josé`;
    if (p.kind === 'user') {
      user++;
      if (user === 3) out.oidc_subject = shared ?? 'sub-shared';
      else if (random.chance(0.5)) out.oidc_subject = random.chance(0.3) ? `sub-${p.name}-中文-😀` : `sub-${p.name}`;
      if (user === 1) shared = out.oidc_subject;
    }
    if (p.kind === 'service' && random.chance(0.7)) out.oidc_client_id = `client-${p.name}`;
    if (random.chance(0.3)) out.limit_class = random.int(2);
    return out;
  });
  payload.keys = payload.keys.map((k, n) => {
    const out: BundlePayload['keys'][number] = { id: k.id, sha256: k.sha256, principal: k.principal };
    if (n % 3 === 0) out.expires = new Date(Date.parse('2026-06-01T00:00:00Z') + n * 3_600_000).toISOString();
    if (n % 5 === 1) out.revoked = true;
    if (n % 4 === 2) out.limits = [0, 1];
    return out;
  });
  return payload;
}

const bytesOf = (payload: unknown, space?: number): Buffer => Buffer.from(JSON.stringify(payload, null, space), 'utf8');

describe('the payload scan', () => {
  describe('on payloads a compiler writes', () => {
    for (const seed of [1, 7, 42]) {
      it(`reads the lists itself and builds the tables compactBundle builds (seed ${seed})`, async () => {
        const payload = await compiled(seed);
        const bytes = bytesOf(payload);
        expect(payload.keys.length).toBeGreaterThan(20);
        expect(payload.principals.some((p) => p.oidc_subject !== undefined && p.limit_class !== undefined)).toBe(true);
        expect(payload.principals.some((p) => p.oidc_subject?.includes('😀'))).toBe(true);
        const scanned = scanPayload(bytes);
        expect(scanned).not.toBeNull();
        expect(scanned?.rest).toContain('"principals":[],"keys":[]');
        expect(scanned?.keys.principal.length).toBe(payload.keys.length);
        const outcome = fast(bytes);
        expect(typeof outcome).toBe('object');
        expect(outcome).toEqual(slow(bytes));
      });
    }

    it('reads empty lists, and lists in any order among the other parts', async () => {
      const payload = await compiled(3);
      const { principals, keys, access_classes, ...others } = payload;
      const reordered = { keys, ...others, access_classes, principals };
      for (const variant of [reordered, { ...payload, principals: [], keys: [] }]) {
        const bytes = bytesOf(variant);
        expect(scanPayload(bytes)).not.toBeNull();
        expect(fast(bytes)).toEqual(slow(bytes));
      }
    });
  });

  describe('on payloads no compiler writes', () => {
    /** Replaces the first match of pattern at or after the start of the named top-level list. */
    const inList = (list: string, pattern: RegExp | string, replacement: string) => (t: string) => {
      const at = t.indexOf(`"${list}":[`);
      return t.slice(0, at) + t.slice(at).replace(pattern, replacement);
    };
    const edits: [string, (text: string) => string][] = [
      ['whitespace', (t) => JSON.stringify(JSON.parse(t), null, 1)],
      ['an escape in a name', inList('principals', '"name":"', '"name":"\\u0041')],
      ['a control character in an id', inList('keys', '"id":"', '"id":"\x01')],
      ['principal fields in another order', (t) => t.replace(/\{"id":("[^"]*"),"name":("[^"]*")/, '{"name":$2,"id":$1')],
      ['an integer written with a fraction', (t) => t.replace('"access_class":0', '"access_class":0.0')],
      ['an integer written with an exponent', (t) => t.replace(/"principal":(\d+)/, '"principal":$1e0')],
      ['an integer too large for the tables', (t) => t.replace(/"principal":(\d+)/, '"principal":4294967296')],
      ['a digest in upper case', (t) => t.replace(/"sha256":"([0-9a-f]{64})"/, (_m, hex: string) => `"sha256":"${hex.toUpperCase()}"`)],
      ['a kind the schema does not know', (t) => t.replace('"kind":"user"', '"kind":"robot"')],
      ['an unknown principal field', (t) => t.replace('"kind":"user",', '"kind":"user","admin":true,')],
      ['an expiry that is not a date-time', inList('keys', /"expires":"[^"]*"/, '"expires":"tomorrow"')],
      ['revoked that is not a boolean', inList('keys', '"revoked":true', '"revoked":1')],
      ['the keys twice', (t) => t.replace('"keys":', '"keys":[],"keys":')],
      ['a top-level key written with an escape', (t) => t.replace('"keys":', '"k\\u0065ys":')],
      [
        'no keys at all',
        (t) => {
          const { keys: _keys, ...rest } = JSON.parse(t) as BundlePayload;
          return JSON.stringify(rest);
        },
      ],
      ['a truncated list', (t) => t.slice(0, t.indexOf('"keys":') + 40)],
    ];
    for (const [what, edit] of edits) {
      it(`falls back to JSON.parse for ${what}, with its outcome`, async () => {
        const compiledBytes = bytesOf(await compiled(5));
        // The unedited payload is read by the scan: the edit is what sends it the slow way.
        expect(scanPayload(compiledBytes)).not.toBeNull();
        const original = compiledBytes.toString('utf8');
        const text = edit(original);
        expect(text).not.toBe(original);
        const bytes = Buffer.from(text, 'utf8');
        expect(scanPayload(bytes)).toBeNull();
        expect(fast(bytes)).toEqual(slow(bytes));
      });
    }

    const invalid: [string, number[]][] = [
      ['a lone continuation byte', [0x80]],
      ['an overlong form', [0xc0, 0xaf]],
      ['an encoded surrogate', [0xed, 0xa0, 0x80]],
      ['a sequence cut short', [0xe2, 0x82]],
      ['a code point above U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
      ['a byte that never occurs in UTF-8', [0xff]],
    ];
    for (const [what, bytes] of invalid) {
      it(`falls back to JSON.parse for a name with ${what}, with its outcome`, async () => {
        const original = bytesOf(await compiled(5));
        expect(scanPayload(original)).not.toBeNull();
        const at = original.indexOf('"name":"', original.indexOf('"principals":[')) + '"name":"'.length;
        const corrupted = Buffer.concat([original.subarray(0, at), Buffer.from(bytes), original.subarray(at)]);
        expect(scanPayload(corrupted)).toBeNull();
        expect(fast(corrupted)).toEqual(slow(corrupted));
      });
    }

    it('gives the slow path outcome for every one of 1,500 corrupted payloads', async () => {
      const original = bytesOf(await compiled(11));
      const random = mulberry32(2026);
      const alphabet = Buffer.from([...Buffer.from('"\\,:{}[]0123456789-.eEabcfnrtu \x01\x7f', 'latin1'), 0xc3, 0xa9, 0xe4, 0xf0, 0x9f, 0xbf, 0xed]);
      let scannedAndKept = 0;
      let refusedBoth = 0;
      for (let i = 0; i < 1500; i++) {
        const bytes = Buffer.from(original);
        const at = random.int(bytes.length);
        const change = random.int(3);
        let mutated: Buffer;
        if (change === 0) {
          bytes[at] = alphabet[random.int(alphabet.length)] as number;
          mutated = bytes;
        } else if (change === 1) mutated = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1)]);
        else mutated = Buffer.concat([bytes.subarray(0, at), alphabet.subarray(random.int(alphabet.length)).subarray(0, 1), bytes.subarray(at)]);
        const outcome = fast(mutated);
        expect(outcome, `mutation ${i} at ${at}`).toEqual(slow(mutated));
        if (typeof outcome === 'string') refusedBoth++;
        else if (scanPayload(mutated) !== null) scannedAndKept++;
      }
      // Both kinds occur: corruptions the scan read and the schema accepted, and refusals.
      expect(scannedAndKept).toBeGreaterThan(50);
      expect(refusedBoth).toBeGreaterThan(50);
    });
  });
});
