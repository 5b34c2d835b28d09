// The usage report's arithmetic: audit lines in, one row per group out. Memory grows with the
// number of groups, never with the number of lines (see latency-sketch.ts).
import { type AuditEvent, type GroupBy, readAuditLine } from './audit-event.ts';
import { LatencySketch } from './latency-sketch.ts';

export interface UsageRow {
  group: string;
  requests: number;
  denied: number;
  errors: number;
  prompt_tokens: number;
  completion_tokens: number;
  p50_ms: number | null;
  p95_ms: number | null;
}

export interface UsageTotals {
  /** Lines read (every input, blank lines left out). */
  lines: number;
  /** Audit lines counted (in the time range). */
  audited: number;
  /** Audit lines outside --since/--until. */
  out_of_range: number;
  /** Valid JSON lines that are not audit lines (the operations log). */
  other: number;
  /** Lines that are not JSON, have no time or status, or are longer than the line limit. */
  malformed: number;
}

export interface UsageReport {
  by: GroupBy;
  since: string | null;
  until: string | null;
  rows: UsageRow[];
  totals: UsageTotals;
}

interface Group {
  requests: number;
  denied: number;
  errors: number;
  prompt: number;
  completion: number;
  latency: LatencySketch;
}

/** Counts audit lines into groups; `since` inclusive, `until` exclusive (epoch ms, null for open). */
export class UsageAggregator {
  private readonly groups = new Map<string, Group>();
  readonly totals: UsageTotals = { lines: 0, audited: 0, out_of_range: 0, other: 0, malformed: 0 };

  constructor(
    private readonly by: GroupBy,
    private readonly sinceMs: number | null,
    private readonly untilMs: number | null,
  ) {}

  /** Adds one line (without its newline). */
  addLine(line: string): void {
    // Blank lines are not counted (no trim() per line: only a line starting with a space is checked).
    const first = line.charCodeAt(0);
    if (line.length === 0 || ((first === 0x20 || first === 0x09 || first === 0x0d) && line.trim() === '')) return;
    this.totals.lines++;
    const event = readAuditLine(line, this.by);
    if (event === 'malformed') this.totals.malformed++;
    else if (event === 'other') this.totals.other++;
    else this.addEvent(event);
  }

  /** Counts a line that was too long to read (it is not parsed). */
  addOverlong(): void {
    this.totals.lines++;
    this.totals.malformed++;
  }

  private addEvent(event: AuditEvent): void {
    if ((this.sinceMs !== null && event.timeMs < this.sinceMs) || (this.untilMs !== null && event.timeMs >= this.untilMs)) {
      this.totals.out_of_range++;
      return;
    }
    this.totals.audited++;
    let group = this.groups.get(event.group);
    if (group === undefined) {
      group = { requests: 0, denied: 0, errors: 0, prompt: 0, completion: 0, latency: new LatencySketch() };
      this.groups.set(event.group, group);
    }
    group.requests++;
    if (event.denied) group.denied++;
    if (event.error) group.errors++;
    group.prompt += event.promptTokens;
    group.completion += event.completionTokens;
    if (event.latencyMs !== null) group.latency.add(event.latencyMs);
  }

  /** The report: rows by requests (most first), then by group name. */
  report(): UsageReport {
    const rows: UsageRow[] = [...this.groups].map(([name, g]) => ({
      group: name,
      requests: g.requests,
      denied: g.denied,
      errors: g.errors,
      prompt_tokens: g.prompt,
      completion_tokens: g.completion,
      p50_ms: g.latency.percentile(0.5),
      p95_ms: g.latency.percentile(0.95),
    }));
    rows.sort((a, b) => b.requests - a.requests || (a.group < b.group ? -1 : a.group > b.group ? 1 : 0));
    const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
    return { by: this.by, since: iso(this.sinceMs), until: iso(this.untilMs), rows, totals: { ...this.totals } };
  }
}
