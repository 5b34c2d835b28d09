// Deterministic audit logs for `modelgate usage` tests and bench:usage: lines shaped as the
// runtime writes them (runtime/audit/audit-line.ts, docs/runtime.md), interleaved with operations
// log lines, from a seed. The same seed and count give the same bytes.
import { mulberry32 } from './prng.ts';

const PRINCIPALS = ['alice', 'bob', 'carol', 'dave', 'service:llmapp1', 'service:batch'];
const TEAMS = ['ml-platform', 'research', 'support'];
const MODELS = ['azure-prod/gpt-4o', 'openai-main/gpt-4o-mini', 'openai-main/text-embedding-3-small', 'local/llama-3-8b'];
const KEYS = ['B1jddwnXpLYV', 'Q9x2LmPzT0aa', 'Zr7uVb3KkW1c', 'Hh4sJd8QpN2e'];

export interface AuditLogOptions {
  seed: number;
  lines: number;
  /** Epoch ms of the first line; lines are spaced 0 to 2 s apart. */
  startMs: number;
  /** One line in this many is not JSON (0: none). */
  malformedEvery?: number;
}

/** The audit lines (and operations lines), each without its newline. */
export function* auditLog(options: AuditLogOptions): Generator<string> {
  const rng = mulberry32(options.seed);
  let time = options.startMs;
  for (let i = 0; i < options.lines; i++) {
    time += rng.int(2000);
    if (options.malformedEvery !== undefined && options.malformedEvery > 0 && i % options.malformedEvery === options.malformedEvery - 1) {
      yield i % 2 === 0 ? `{"level":"info","time":${time},"audit":true,"status":` : 'Error: something printed a stack trace here';
      continue;
    }
    if (rng.chance(0.03)) {
      yield `{"level":"warn","time":"${new Date(time).toISOString()}","service":"modelgate","account":"azure-prod","reason":"timeout","msg":"provider secret unavailable"}`;
      continue;
    }
    // Both time spellings: pino's ISO text, and epoch milliseconds.
    const timeText = rng.chance(0.5) ? `"${new Date(time).toISOString()}"` : String(time);
    const model = rng.pick(MODELS);
    const id = `${(options.seed >>> 0).toString(16)}-${i.toString(16).padStart(8, '0')}`;
    let fields = `"audit":true,"request_id":"${id}","method":"POST","route":"/v1/chat/completions"`;
    const kind = rng.next();
    if (kind < 0.05) {
      fields += `,"credential_id":"${rng.pick(KEYS)}","auth_failure":"${rng.pick(['unknown_key', 'expired', 'revoked'])}","status":401,"code":"MG_UNAUTHENTICATED"`;
    } else {
      const principal = rng.pick(PRINCIPALS);
      fields += `,"principal":"${principal}","principal_id":"u-${PRINCIPALS.indexOf(principal)}","credential_id":"${rng.pick(KEYS)}","model":"${model}","account":"${model.split('/')[0]}"`;
      if (kind < 0.12) {
        fields += `,"decision":"deny","deny_reason":"no_grant","status":403,"code":"MG_MODEL_NOT_ALLOWED"`;
      } else {
        fields += `,"decision":"allow","rule":"authz/rules.yaml:${3 + rng.int(40)}:5"`;
        if (rng.chance(0.7)) fields += `,"via":"${rng.pick(TEAMS)}"`;
        const failed = kind > 0.95;
        const status = failed ? rng.pick([429, 500, 400]) : 200;
        fields += `,"status":${status}`;
        if (failed) fields += `,"code":"${status === 429 ? 'MG_UPSTREAM_RATE_LIMITED' : 'MG_UPSTREAM_ERROR'}","outcome":"upstream_error"`;
        else fields += ',"outcome":"ok"';
        const upstream = Math.round((20 + rng.next() ** 3 * 30_000) * 1000) / 1000;
        fields += `,"latency_ms":${Math.round((upstream + rng.next() * 2) * 1000) / 1000},"upstream_latency_ms":${upstream}`;
        if (!failed) {
          const prompt = 1 + rng.int(4000);
          const completion = rng.int(1500);
          fields += `,"usage":{"prompt_tokens":${prompt},"completion_tokens":${completion},"total_tokens":${prompt + completion}}`;
        }
        fields += `,"bundle_serial":1795777452`;
        yield `{"level":"info","time":${timeText},"service":"modelgate",${fields},"msg":"request"}`;
        continue;
      }
    }
    fields += `,"latency_ms":${Math.round(rng.next() * 2000) / 1000},"bundle_serial":1795777452`;
    yield `{"level":"info","time":${timeText},"service":"modelgate",${fields},"msg":"request"}`;
  }
}
