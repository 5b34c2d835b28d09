// How a fleet's /metrics combines its workers' expositions (runtime/fleet/merge-metrics.ts).
import { describe, expect, it } from 'vitest';
import { mergeExpositions } from '../../runtime/fleet/merge-metrics.ts';

const worker = (requests: number, serial: number, rss: number, started: number, bucket: number): string =>
  [
    '# HELP modelgate_requests_total Requests.',
    '# TYPE modelgate_requests_total counter',
    `modelgate_requests_total{principal="alice",model="local/gpt 4o",status="200"} ${requests}`,
    '# HELP modelgate_bundle_serial Serial.',
    '# TYPE modelgate_bundle_serial gauge',
    `modelgate_bundle_serial ${serial}`,
    '# HELP modelgate_process_resident_memory_bytes RSS.',
    '# TYPE modelgate_process_resident_memory_bytes gauge',
    `modelgate_process_resident_memory_bytes ${rss}`,
    '# HELP modelgate_process_start_time_seconds Start.',
    '# TYPE modelgate_process_start_time_seconds gauge',
    `modelgate_process_start_time_seconds ${started}`,
    '# HELP modelgate_request_duration_seconds Latency.',
    '# TYPE modelgate_request_duration_seconds histogram',
    `modelgate_request_duration_seconds_bucket{route="/v1/chat/completions",le="0.1"} ${bucket}`,
    `modelgate_request_duration_seconds_sum{route="/v1/chat/completions"} ${bucket / 10}`,
    `modelgate_request_duration_seconds_count{route="/v1/chat/completions"} ${bucket}`,
    '',
  ].join('\n');

describe('when two workers report', () => {
  const merged = mergeExpositions([worker(3, 7, 100, 50, 4), worker(5, 8, 200, 40, 6)]);

  it('adds up counters and histograms, label values with spaces included', () => {
    expect(merged).toContain('modelgate_requests_total{principal="alice",model="local/gpt 4o",status="200"} 8\n');
    expect(merged).toContain('modelgate_request_duration_seconds_bucket{route="/v1/chat/completions",le="0.1"} 10\n');
    expect(merged).toContain('modelgate_request_duration_seconds_sum{route="/v1/chat/completions"} 1\n');
    expect(merged).toContain('modelgate_request_duration_seconds_count{route="/v1/chat/completions"} 10\n');
  });

  it('adds up resource gauges, takes the highest of state gauges and the earliest start time', () => {
    expect(merged).toContain('modelgate_process_resident_memory_bytes 300\n');
    expect(merged).toContain('modelgate_bundle_serial 8\n');
    expect(merged).toContain('modelgate_process_start_time_seconds 40\n');
  });

  it('keeps one HELP and TYPE per family, before its samples', () => {
    expect(merged.match(/# TYPE modelgate_requests_total counter/g)).toHaveLength(1);
    expect(merged.indexOf('# TYPE modelgate_bundle_serial gauge')).toBeLessThan(merged.indexOf('modelgate_bundle_serial 8'));
  });
});

describe('when a series exists in one worker only', () => {
  it('is kept as it is', () => {
    const merged = mergeExpositions([worker(1, 1, 1, 1, 1), '# TYPE modelgate_tokens_total counter\nmodelgate_tokens_total{kind="prompt"} 11\n']);
    expect(merged).toContain('modelgate_tokens_total{kind="prompt"} 11\n');
  });
});
