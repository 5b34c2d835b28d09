// Test policy trees and signed bundles, built with the real compiler (tests may import compiler/;
// the runtime never does).
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { compileBundle } from '../../compiler/bundle/compile-bundle.ts';
import { type SignedBundle, signPayload as signWith } from '../../compiler/bundle/sign.ts';
import { mintApiKey, sha256Hex } from '../../schemas/formats/api-key.ts';
import type { BundlePayload } from '../../schemas/types.generated.ts';

export const AUDIENCE = 'test-gateway';

export interface TestKeys {
  alice: string;
  bob: string;
  llmapp1: string;
  /** A key of alice's that is revoked in the bundle. */
  revoked: string;
  /** A key of bob's that expired yesterday. */
  expired: string;
}

export interface TreeOptions {
  upstreamUrl: string;
  /** Path of the file holding the Azure root key (file:// secret). */
  azureKeyFile: string;
  /** Environment variable holding the OpenAI root key (env:// secret). */
  openaiKeyVar: string;
  /** When bob's grant to local/gpt-4o-mini lapses (absent: bob has no such grant). */
  bobGrantExpires?: string;
  /** Extra authz rules, YAML list items. */
  extraRules?: string;
  /** Teams of the directory, YAML list items ({name, members}). */
  teams?: string;
  /** Extra provider files, by file name under providers/ (e.g. accounts whose secret is in a cloud store). */
  extraProviders?: Record<string, string>;
  /** Trust this OIDC issuer (audience "modelgate"); llmapp1 gets oidc_client_id llmapp1. */
  oidcIssuer?: string;
}

/** Mints the keys a test tree uses (plaintexts stay in the test, only hashes go to the tree). */
export function mintTestKeys(): TestKeys {
  return { alice: mintApiKey().key, bob: mintApiKey().key, llmapp1: mintApiKey().key, revoked: mintApiKey().key, expired: mintApiKey().key };
}

const keyId = (key: string): string => key.split('_')[1] as string;

/** Writes a policy folder: accounts local (openai), azure (azure-openai), mock, dead (nothing listens). */
export async function writePolicyTree(dir: string, keys: TestKeys, options: TreeOptions): Promise<void> {
  const files: Record<string, string> = {
    'gateway.yaml':
      `audience: ${AUDIENCE}\nbundle:\n  lifetime: 7d\n` +
      (options.oidcIssuer !== undefined ? `oidc:\n  issuers:\n    - issuer: ${options.oidcIssuer}\n      audience: modelgate\n` : ''),
    'directory.yaml': `users:\n  - {username: alice, id: u-1${options.oidcIssuer !== undefined ? ', oidc_subject: alice' : ''}}\n  - {username: bob, id: u-2}\n  - {username: carol, id: u-3}\nservices:\n  - {name: llmapp1, id: svc-1${options.oidcIssuer !== undefined ? ', oidc_client_id: llmapp1' : ''}}\n${options.teams === undefined ? '' : `teams:\n${options.teams}`}`,
    'providers/local.yaml': `name: local\ntype: openai\nbase_url: ${options.upstreamUrl}/v1\nsecret: env://${options.openaiKeyVar}\nmodels:\n  - name: gpt-4o-mini\n    upstream_name: gpt-4o-mini-2024-07-18\n  - name: gpt-3.5-turbo-instruct\n  - name: text-embedding-3-small\n  - name: slow-model\n  - name: broken-stream\n  - name: hang-stream\n  - name: firehose\n  - name: leaky-error\n  - name: rate-limited\n  - name: root-key-refused\n  - name: split-usage\n  - name: retired\n    enabled: false\n`,
    'providers/azure.yaml': `name: azure\ntype: azure-openai\nbase_url: ${options.upstreamUrl}\napi_version: "2024-10-21"\nsecret: file://${options.azureKeyFile}\nmodels:\n  - name: gpt-4o\n    deployment: gpt-4o-prod\n  - name: text-embedding-3-large\n    deployment: embeddings-prod\n`,
    'providers/mock.yaml': `name: mock\ntype: mock\nmodels:\n  - name: gpt-4o-mini\n  - name: text-embedding-3-small\n`,
    'providers/dead.yaml': `name: dead\ntype: openai\nbase_url: http://127.0.0.1:9/v1\nsecret: env://${options.openaiKeyVar}\nmodels:\n  - name: gpt-4o\n`,
    'authz/rules.yaml':
      `authz_rules:\n  - models: ["local/*", "azure/*", "mock/*", "dead/*"]\n    users: [alice]\n  - models: ["azure/*"]\n    services: [llmapp1]\n  - models: ["mock/*"]\n    users: [bob]\n` +
      (options.bobGrantExpires !== undefined ? `  - models: [local/gpt-4o-mini]\n    users: [bob]\n    expires: ${options.bobGrantExpires}\n` : '') +
      (options.extraRules ?? ''),
  };
  const record = (key: string, principal: string, extra = ''): string =>
    `id: ${keyId(key)}\nprincipal: ${principal}\nsha256: ${sha256Hex(key)}\ncreated: 2026-01-01T00:00:00Z\n${extra}`;
  files[`keys/${keyId(keys.alice)}.yaml`] = record(keys.alice, 'alice');
  files[`keys/${keyId(keys.bob)}.yaml`] = record(keys.bob, 'bob');
  files[`keys/${keyId(keys.llmapp1)}.yaml`] = record(keys.llmapp1, 'service:llmapp1');
  files[`keys/${keyId(keys.revoked)}.yaml`] = record(keys.revoked, 'alice', 'revoked: true\n');
  files[`keys/${keyId(keys.expired)}.yaml`] = record(keys.expired, 'bob', `expires: ${new Date(Date.now() - 86_400_000).toISOString()}\n`);
  for (const [name, text] of Object.entries(options.extraProviders ?? {})) files[`providers/${name}`] = text;
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }
}

/** Compiles and signs a policy folder the way `modelgate compile` does; fails the test on diagnostics. */
async function compileSigned(dir: string, serial: number, privateKey: KeyObject, createdAt = new Date()): Promise<SignedBundle> {
  const { analysis, bundle } = await compileBundle(dir, { signingKey: privateKey, serial, revision: `rev-${serial}`, createdAt });
  if (bundle === null) throw new Error(`test policies do not compile:\n${analysis.diagnostics.map((d) => JSON.stringify(d)).join('\n')}`);
  return bundle;
}

/** Compiles a policy folder into a payload (signed with a throwaway key, then unwrapped); fails the test on diagnostics. */
export async function compilePayload(dir: string, serial: number, createdAt = new Date()): Promise<BundlePayload> {
  return (await compileSigned(dir, serial, generateKeyPairSync('ed25519').privateKey, createdAt)).payload;
}

/** Signs a payload into envelope bytes. */
export function signPayload(payload: BundlePayload, privateKey: KeyObject): Buffer {
  return signWith(payload, privateKey).envelope;
}

/** A signed bundle of the folder, with an optional edit of the payload before signing. */
export async function buildBundle(dir: string, serial: number, privateKey: KeyObject, edit?: (payload: BundlePayload) => void): Promise<Buffer> {
  const { payload, envelope } = await compileSigned(dir, serial, privateKey);
  if (edit === undefined) return envelope;
  edit(payload);
  return signPayload(payload, privateKey);
}
