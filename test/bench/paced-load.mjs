// bench:swap's load generator, in its own process: requests at an even pace (one every 1000/rate
// ms), over a pool of keep-alive connections. autocannon's overallRate sends each connection's
// share of a second back to back at the start of the second and then waits: bursts, in which
// requests queue behind each other and the gateway's young generation fills with requests in
// flight; a swap's effect drowned in them. Here a request's latency counts from the time it was
// due, not from when it was sent, so neither the pool being busy nor this process being late hides
// a wait (no coordinated omission). Its own process keeps the bench's big heap (the 100k payload)
// and the bundle host's copies out of its timings.
//
// Input: one argument, JSON {url, rate, connections, headers, body}. Runs until its stdin ends,
// then waits for the requests in flight (at most 10 s) and writes one JSON line to stdout:
// {samples: [[due, latency, status], ...], late}, with due on the wall clock (timeOrigin + now, ms),
// status 0 for a failed request, late the most this process sent a request after it was due.
import { Agent, request } from 'node:http';

const { url, rate, connections, headers, body } = JSON.parse(process.argv[2] ?? '{}');
const target = new URL(url);
const agent = new Agent({ keepAlive: true, maxSockets: connections });
const payload = Buffer.from(body);
const interval = 1000 / rate;
/** [due (wall clock ms), latency ms, status] per request. */
const samples = [];
let inFlight = 0;
let stopping = false;
let late = 0;

function send(due) {
  inFlight++;
  const sample = [performance.timeOrigin + due, Number.NaN, 0];
  samples.push(sample);
  const done = (status) => {
    sample[1] = performance.now() - due;
    sample[2] = status;
    inFlight--;
  };
  const req = request(
    { host: target.hostname, port: target.port, path: target.pathname, method: 'POST', agent, headers: { ...headers, 'content-length': payload.length } },
    (res) => {
      res.on('data', () => {});
      res.on('end', () => done(res.statusCode ?? 0));
      res.on('error', () => done(0));
    },
  );
  req.on('error', () => done(0));
  req.end(payload);
}

let next = performance.now() + 20;
function tick() {
  if (stopping) return;
  const now = performance.now();
  while (next <= now) {
    late = Math.max(late, now - next);
    send(next);
    next += interval;
  }
  setTimeout(tick, Math.max(0, next - performance.now()));
}
setTimeout(tick, 20);

process.stdin.resume();
process.stdin.on('end', async () => {
  stopping = true;
  const until = performance.now() + 10_000;
  while (inFlight > 0 && performance.now() < until) await new Promise((r) => setTimeout(r, 10));
  agent.destroy();
  process.stdout.write(`${JSON.stringify({ samples, late })}\n`, () => process.exit(0));
});
