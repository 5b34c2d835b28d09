// Compile benchmark (npm run bench:compile; not part of npm test). Generates an enterprise-sized
// policy repository as YAML files, then, each in a fresh child process so that peak RSS belongs
// to one job: compiles it the way `modelgate compile` does (read, load, check, index, serialize,
// sign), and loads the bundle the way the runtime does: on the activation worker (verify, gate,
// flat tables, transfer) and wrapped on the main thread; then times single decisions. The load
// child runs with --expose-gc: the activated bundle's memory is RSS after the load minus RSS before
// it, each after a forced GC (and after the worker has ended). Prints a markdown table.
//
//   npm run bench:compile                    the full size (100k users, 2k models, 10k rules, 50k keys)
//   npm run bench:compile -- --scale 0.1     a tenth of everything, for a quick look
//   npm run bench:compile -- --keep DIR      write the tree and bundle to DIR and keep them
//   npm run bench:compile -- --reuse DIR     the runtime part only, on DIR/bundle.json of an earlier --keep
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { type GenerateOptions, generatePolicies } from './generate-policies.ts';

const SELF = fileURLToPath(import.meta.url);
const FULL: Omit<GenerateOptions, 'seed'> = { accounts: 50, modelsPerAccount: 40, users: 100_000, teams: 500, services: 1_000, rules: 10_000, keys: 50_000 };
const TARGETS = { compileMs: 10_000, peakRssMb: 1_536, gzipMb: 20, loadMs: 1_000, bundleMemoryMb: 80, decisionNs: 2_000 };
// The bench bundle is created 2026-06-01 and valid for 7 days: activated as of the next day.
const LOAD_AT = Date.parse('2026-06-02T00:00:00Z');
const DECISIONS = 2_000_000;

interface CompileReport {
  phases: Record<string, number>;
  totalMs: number;
  maxRssMb: number;
  payloadBytes: number;
  envelopeBytes: number;
  counts: Record<string, number>;
  warnings: number;
}

interface LoadReport {
  /** On the activation worker, as the gateway loads: bytes in, ActiveBundle out (worker start included). */
  workerLoadMs: number;
  /** The longest the main thread's event loop was held up during that load. */
  maxStallMs: number;
  /** RSS after the load minus before it, both after a forced GC, the worker ended. */
  bundleMemoryMb: number;
  heapMb: number;
  arrayBuffersMb: number;
  /** The same steps in process, timed one by one. */
  verifyMs: number;
  layoutMs: number;
  /** The typed arrays of the principal, key and grant tables (what is transferred). */
  tablesMb: number;
  assembleMs: number;
  maxRssMb: number;
  decisions: number;
  decisionNs: number;
  allowedShare: number;
}

const ms = (start: bigint): number => Number(process.hrtime.bigint() - start) / 1e6;
const mb = (kb: number): number => kb / 1024;

async function compileChild(dir: string, keyPath: string, outPath: string): Promise<CompileReport> {
  const { readPolicyFiles } = await import('../../compiler/io/read-policies.ts');
  const { loadPolicySet } = await import('../../compiler/load/policy-set.ts');
  const { staticDirectory } = await import('../../compiler/resolve/static-directory.ts');
  const { analyze, requestedNames } = await import('../../compiler/compile.ts');
  const { buildPayload } = await import('../../compiler/bundle/build-payload.ts');
  const { serializePayload, signBundle, serializeEnvelope } = await import('../../compiler/bundle/sign.ts');
  const { readPrivateKey } = await import('../../schemas/formats/signing-keys.ts');
  const key = await readPrivateKey(keyPath);
  const now = new Date('2026-06-01T00:00:00Z');
  const phases: Record<string, number> = {};
  const step = async <T>(name: string, run: () => T | Promise<T>): Promise<T> => {
    const t = process.hrtime.bigint();
    const value = await run();
    phases[name] = ms(t);
    return value;
  };
  const files = await step('read files (readPolicyFiles)', () => readPolicyFiles(dir));
  const begin = process.hrtime.bigint();
  // The steps of analyzeFiles (compiler/io/compile-folder.ts), timed one by one.
  const loaded = await step('load: YAML + schema (loadPolicySet)', () => loadPolicySet(files));
  const resolved = await step('resolve directory (staticSnapshot)', () => staticDirectory(loaded.set.directory).resolve(requestedNames(loaded.set)));
  const analysis = await step('check (analyze)', () => analyze(loaded.set, resolved.snapshot, [...loaded.diagnostics, ...resolved.diagnostics], { now }));
  if (analysis.model === null) {
    const errors = analysis.diagnostics.filter((d) => d.severity === 'error');
    throw new Error(`the generated tree does not compile: ${errors.length} errors, first ${JSON.stringify(errors.slice(0, 3))}`);
  }
  const model = analysis.model;
  const payload = await step('index (buildPayload)', () => buildPayload(model, { serial: 1, revision: 'bench', createdAt: now }));
  const payloadBytes = await step('serialize (serializePayload)', () => serializePayload(payload));
  const envelope = await step('sign (signBundle + serializeEnvelope)', () => serializeEnvelope(signBundle(payloadBytes, key)));
  const totalMs = ms(begin);
  writeFileSync(outPath, envelope);
  return {
    phases,
    totalMs,
    maxRssMb: mb(process.resourceUsage().maxRSS),
    payloadBytes: payloadBytes.length,
    envelopeBytes: envelope.length,
    counts: {
      files: files.length,
      principals: payload.principals.length,
      models: payload.models.length,
      rules: payload.rules.length,
      access_classes: payload.access_classes.length,
      keys: payload.keys.length,
    },
    warnings: analysis.diagnostics.length,
  };
}

async function loadChild(bundlePath: string, publicKeyPath: string): Promise<LoadReport> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('the load child needs node --expose-gc');
  const { createPublicKey } = await import('node:crypto');
  const { Agent } = await import('undici');
  const { trustKeys, verifyBundle } = await import('../../schemas/bundle/verify.ts');
  const { compactBundle, transferListOf } = await import('../../runtime/bundle/compact.ts');
  const { activeBundleOf } = await import('../../runtime/bundle/activate.ts');
  const { closeActivationWorker, workerActivation } = await import('../../runtime/bundle/off-thread.ts');
  const { mulberry32 } = await import('../support/prng.ts');
  const trusted = trustKeys([createPublicKey(readFileSync(publicKeyPath))]);
  const ctx = { dispatcher: new Agent() };
  const bytes = readFileSync(bundlePath);
  const audience = (JSON.parse(Buffer.from(JSON.parse(bytes.toString('utf8')).payload, 'base64').toString('utf8')) as { audience: string }).audience;
  const gate = { audience, active: null, floor: null, nowMs: LOAD_AT, acceptExpired: false };
  const settle = async (): Promise<NodeJS.MemoryUsage> => {
    for (let i = 0; i < 3; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 50));
    }
    return process.memoryUsage();
  };

  // The gateway's way, first, in a process that has not parsed the payload itself.
  const before = await settle();
  let maxStallMs = 0;
  let last = performance.now();
  const probe = setInterval(() => {
    const now = performance.now();
    maxStallMs = Math.max(maxStallMs, now - last - 1);
    last = now;
  }, 1);
  let t = process.hrtime.bigint();
  const { next, bytes: envelope } = await workerActivation(trusted, ctx)(bytes, gate);
  const workerLoadMs = ms(t);
  clearInterval(probe);
  if (next === 'unchanged') throw new Error('the bench bundle was not activated');
  await closeActivationWorker();
  const after = await settle();

  // The same steps in process, for where the time goes.
  t = process.hrtime.bigint();
  const verified = verifyBundle(envelope, trusted);
  const verifyMs = ms(t);
  t = process.hrtime.bigint();
  const compact = compactBundle(verified);
  const layoutMs = ms(t);
  const tablesMb = transferListOf(compact).reduce((sum, b) => sum + b.byteLength, 0) / 2 ** 20;
  t = process.hrtime.bigint();
  activeBundleOf(compact, ctx, LOAD_AT);
  const assembleMs = ms(t);

  // Random (principal, model) pairs chosen up front, so the loop times decide() alone.
  const index = next.index;
  const random = mulberry32(99);
  const fqns = next.payload.models.map((m) => m.fqn);
  const PAIRS = 1 << 16;
  const principals = Int32Array.from({ length: PAIRS }, () => random.int(next.principals.length));
  const models = Array.from({ length: PAIRS }, () => fqns[random.int(fqns.length)] as string);
  let allowed = 0;
  for (let i = 0; i < 200_000; i++) if (index.decide(principals[i & (PAIRS - 1)] as number, models[i & (PAIRS - 1)] as string, LOAD_AT).allowed) allowed++; // warm-up
  allowed = 0;
  t = process.hrtime.bigint();
  for (let i = 0; i < DECISIONS; i++) if (index.decide(principals[i & (PAIRS - 1)] as number, models[i & (PAIRS - 1)] as string, LOAD_AT).allowed) allowed++;
  const loopNs = Number(process.hrtime.bigint() - t);
  await ctx.dispatcher.close();
  return {
    workerLoadMs,
    maxStallMs,
    bundleMemoryMb: (after.rss - before.rss) / 2 ** 20,
    heapMb: (after.heapUsed - before.heapUsed) / 2 ** 20,
    arrayBuffersMb: (after.arrayBuffers - before.arrayBuffers) / 2 ** 20,
    verifyMs,
    layoutMs,
    tablesMb,
    assembleMs,
    maxRssMb: mb(process.resourceUsage().maxRSS),
    decisions: DECISIONS,
    decisionNs: loopNs / DECISIONS,
    allowedShare: allowed / DECISIONS,
  };
}

function runChild<T>(args: string[]): T {
  const result = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', SELF, ...args], {
    encoding: 'utf8',
    maxBuffer: 16 * 1024 * 1024,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (result.status !== 0) throw new Error(`child ${args[0]} failed with status ${result.status}`);
  const last = result.stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(last) as T;
}

const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
// Reading the files is I/O ahead of the compile proper: shown on its own row, outside the target.
const phaseRows = (phases: Record<string, number>, reading: boolean): string[] =>
  Object.entries(phases)
    .filter(([phase]) => phase.startsWith('read') === reading)
    .map(([phase, value]) => `| ${reading ? `${phase} (not in the target)` : `&nbsp;&nbsp;${phase}`} | ${fmt(value)} ms | | |`);
const verdict = (value: number, target: number): string => (value < target ? 'yes' : '**NO**');

const loadRows = (load: LoadReport): string[] => [
  `| runtime load, total: on the activation worker, as the gateway loads (worker start, verify, gate, tables, transfer, wrap) | ${fmt(load.workerLoadMs)} ms | < ${fmt(TARGETS.loadMs)} ms | ${verdict(load.workerLoadMs, TARGETS.loadMs)} |`,
  `| &nbsp;&nbsp;in process: verify + parse + schema (verifyBundle) | ${fmt(load.verifyMs)} ms | | |`,
  `| &nbsp;&nbsp;in process: principal, key and grant tables (compactBundle) | ${fmt(load.layoutMs)} ms | | |`,
  `| &nbsp;&nbsp;in process: wrap on the main thread (activeBundleOf) | ${fmt(load.assembleMs)} ms | | |`,
  `| longest event-loop stall of the main thread during the load | ${fmt(load.maxStallMs, 1)} ms | | |`,
  `| activated bundle memory (RSS after load − before, after GC) | ${fmt(load.bundleMemoryMb, 1)} MB | < ${fmt(TARGETS.bundleMemoryMb)} MB | ${verdict(load.bundleMemoryMb, TARGETS.bundleMemoryMb)} |`,
  `| &nbsp;&nbsp;JS heap / ArrayBuffers, after − before; the tables' typed arrays | ${fmt(load.heapMb, 1)} MB / ${fmt(load.arrayBuffersMb, 1)} MB; ${fmt(load.tablesMb, 1)} MB | | |`,
  `| runtime peak RSS (load child maxRSS, in-process steps included) | ${fmt(load.maxRssMb)} MB | | |`,
  `| one decision (${fmt(load.decisions)} random pairs, ${fmt(load.allowedShare * 100, 1)}% allowed) | ${fmt(load.decisionNs, 0)} ns (${fmt(1e9 / load.decisionNs / 1e6, 1)} M/s) | < ${fmt(TARGETS.decisionNs)} ns | ${verdict(load.decisionNs, TARGETS.decisionNs)} |`,
];

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { scale: { type: 'string' }, keep: { type: 'string' }, seed: { type: 'string' }, reuse: { type: 'string' } } });
  if (values.reuse !== undefined) {
    const load = runChild<LoadReport>(['--child', 'load', join(values.reuse, 'bundle.json'), join(values.reuse, 'signing.pub.pem')]);
    const lines = [
      `### modelgate runtime load benchmark (${values.reuse}/bundle.json)`,
      '',
      '| measure | value | target | met |',
      '|---|---:|---:|:---:|',
      ...loadRows(load),
    ];
    process.stdout.write(lines.join('\n') + '\n');
    return;
  }
  const scale = values.scale === undefined ? 1 : Number(values.scale);
  const sized = (n: number): number => Math.max(1, Math.round(n * scale));
  const options: GenerateOptions = {
    seed: values.seed === undefined ? 1 : Number(values.seed),
    accounts: sized(FULL.accounts),
    modelsPerAccount: FULL.modelsPerAccount,
    users: sized(FULL.users),
    teams: sized(FULL.teams),
    services: sized(FULL.services),
    rules: sized(FULL.rules),
    keys: sized(FULL.keys),
  };
  const root = values.keep ?? mkdtempSync(join(tmpdir(), 'mg-bench-'));
  const policies = join(root, 'policies');
  try {
    let t = process.hrtime.bigint();
    const generated = generatePolicies(options);
    const generateMs = ms(t);
    t = process.hrtime.bigint();
    for (const file of generated.files) {
      const path = join(policies, file.path);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, file.text);
    }
    const writeMs = ms(t);
    const sourceBytes = generated.files.reduce((sum, f) => sum + Buffer.byteLength(f.text), 0);
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    writeFileSync(join(root, 'signing.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
    writeFileSync(join(root, 'signing.pub.pem'), publicKey.export({ type: 'spki', format: 'pem' }));
    const bundlePath = join(root, 'bundle.json');
    process.stderr.write(
      `generated ${fmt(generated.files.length)} files (${fmt(sourceBytes / 1e6, 1)} MB of YAML) in ${fmt(generateMs)} ms, written in ${fmt(writeMs)} ms; compiling...\n`,
    );

    const compile = runChild<CompileReport>(['--child', 'compile', policies, join(root, 'signing.pem'), bundlePath]);
    const gzipBytes = gzipSync(readFileSync(bundlePath)).length;
    const load = runChild<LoadReport>(['--child', 'load', bundlePath, join(root, 'signing.pub.pem')]);

    const c = compile.counts;
    const lines = [
      `### modelgate compile benchmark (seed ${options.seed}, scale ${scale})`,
      '',
      `${fmt(options.users)} users, ${fmt(options.teams)} teams, ${fmt(options.services)} services, ${fmt(c.models ?? 0)} models in ${fmt(options.accounts)} accounts, ${fmt(options.rules)} rules, ${fmt(options.keys)} keys: ${fmt(c.files ?? 0)} files, ${fmt(sourceBytes / 1e6, 1)} MB of YAML. Bundle: ${fmt(c.principals ?? 0)} principals, ${fmt(c.access_classes ?? 0)} access classes; ${fmt(compile.warnings)} warnings.`,
      '',
      '| measure | value | target | met |',
      '|---|---:|---:|:---:|',
      ...phaseRows(compile.phases, true),
      `| compile from text (load + check + index + serialize + sign) | ${fmt(compile.totalMs)} ms | < ${fmt(TARGETS.compileMs)} ms | ${verdict(compile.totalMs, TARGETS.compileMs)} |`,
      ...phaseRows(compile.phases, false),
      `| compile peak RSS (child maxRSS) | ${fmt(compile.maxRssMb)} MB | < ${fmt(TARGETS.peakRssMb)} MB | ${verdict(compile.maxRssMb, TARGETS.peakRssMb)} |`,
      `| payload, raw | ${fmt(compile.payloadBytes / 1e6, 2)} MB | | |`,
      `| envelope, raw (base64 payload) | ${fmt(compile.envelopeBytes / 1e6, 2)} MB | | |`,
      `| envelope, gzipped | ${fmt(gzipBytes / 1e6, 2)} MB | < ${TARGETS.gzipMb} MB | ${verdict(gzipBytes / 1e6, TARGETS.gzipMb)} |`,
      ...loadRows(load),
    ];
    process.stdout.write(lines.join('\n') + '\n');
  } finally {
    if (values.keep === undefined) rmSync(root, { recursive: true, force: true });
  }
}

const args = process.argv.slice(2);
if (args[0] === '--child') {
  const report = args[1] === 'compile' ? await compileChild(args[2]!, args[3]!, args[4]!) : await loadChild(args[2]!, args[3]!);
  process.stdout.write(JSON.stringify(report) + '\n');
} else {
  await main();
}
