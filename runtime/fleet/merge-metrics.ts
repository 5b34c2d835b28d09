// The /metrics of a fleet of workers (--workers): each worker's Prometheus text exposition,
// merged into one, series by series. This merges the rendered text rather than prom-client's
// JSON (its AggregatorRegistry) because part of the exposition, the request-path families
// (metrics/fast-families.ts), is rendered without prom-client.
// How a series combines follows its family's TYPE: counters, histograms and summary sums and
// counts add up; a gauge adds up when it measures a share of the process's resources (memory,
// handles, requests in flight) and otherwise takes the highest value (a bundle serial, an age, an
// expiry alarm, an `_info` series: the same across workers, or the worst of them), except a
// start time, which takes the lowest.

const ADDITIVE_GAUGE = /(_bytes|_handles|_requests|_resources|_in_flight|_inflight|_connections)(_total)?$/;

type Combine = 'sum' | 'max' | 'min';

interface Family {
  help: string | undefined;
  type: string | undefined;
  /** Sample key (name and labels, as written) -> value, in first-seen order. */
  samples: Map<string, number>;
}

function combineOf(family: string, type: string | undefined): Combine {
  if (type !== 'gauge') return 'sum';
  if (family.endsWith('_start_time_seconds')) return 'min';
  return ADDITIVE_GAUGE.test(family) ? 'sum' : 'max';
}

/** Merges expositions (one per worker) into one. */
export function mergeExpositions(texts: readonly string[]): string {
  const families = new Map<string, Family>();
  const familyOf = (name: string): Family => {
    let family = families.get(name);
    if (family === undefined) {
      family = { help: undefined, type: undefined, samples: new Map() };
      families.set(name, family);
    }
    return family;
  };
  for (const text of texts) {
    let current: string | null = null;
    for (const line of text.split('\n')) {
      if (line === '') continue;
      const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (meta !== null) {
        const family = familyOf(meta[2] as string);
        current = meta[2] as string;
        if (meta[1] === 'HELP') family.help ??= meta[3];
        else family.type ??= meta[3];
        continue;
      }
      if (line.startsWith('#')) continue;
      const space = line.lastIndexOf(' ');
      const key = line.slice(0, space);
      const value = Number(line.slice(space + 1));
      // A sample belongs to the family declared above it (histogram _bucket/_sum/_count lines too).
      const name = current ?? (key.split('{', 1)[0] as string);
      const family = familyOf(name);
      const combine = combineOf(name, family.type);
      const previous = family.samples.get(key);
      if (previous === undefined) family.samples.set(key, value);
      else family.samples.set(key, combine === 'sum' ? previous + value : combine === 'max' ? Math.max(previous, value) : Math.min(previous, value));
    }
  }
  let out = '';
  for (const [name, family] of families) {
    if (family.help !== undefined) out += `# HELP ${name} ${family.help}\n`;
    if (family.type !== undefined) out += `# TYPE ${name} ${family.type}\n`;
    for (const [key, value] of family.samples) out += `${key} ${value}\n`;
  }
  return out;
}
