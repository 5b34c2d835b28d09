// Limits in a test bundle: written into the compiled payload the way the compiler indexes them
// (limits, limit_classes, principal.limit_class, key.limits), so that the runtime's side is tested
// against exactly the bundle format, whatever policy produced it.
import type { BundleLimit, BundlePayload } from '../../schemas/types.generated.ts';

export interface TestLimit extends Omit<BundleLimit, 'models' | 'source' | 'per'> {
  per?: 'each' | 'shared';
  /** Model FQNs. */
  models: string[];
  /** Principal names (alice, service:llmapp1) the limit names. */
  principals?: string[];
  /** Key ids the limit names. */
  keys?: string[];
}

/** Adds limits to payload (replacing any), indexed as the bundle format says. */
export function withLimits(payload: BundlePayload, limits: TestLimit[], pricing: Record<string, BundlePayload['models'][number]['pricing']> = {}): void {
  const fqnIndex = new Map(payload.models.map((m, i) => [m.fqn, i]));
  for (const [fqn, price] of Object.entries(pricing)) (payload.models[fqnIndex.get(fqn) as number] as BundlePayload['models'][number]).pricing = price;
  payload.limits = limits.map((l, i) => {
    const { principals: _p, keys: _k, models, ...rest } = l;
    return {
      ...rest,
      per: l.per ?? 'each',
      source: `limits/test.yaml:${i + 1}:5`,
      models: models.map((fqn) => fqnIndex.get(fqn) as number).sort((a, b) => a - b),
    };
  });
  const classes: number[][] = [];
  const classKey = new Map<string, number>();
  payload.principals.forEach((p, index) => {
    const label = p.kind === 'service' ? `service:${p.name}` : p.name;
    const mine = limits.flatMap((l, i) => (l.principals?.includes(label) === true ? [i] : []));
    delete p.limit_class;
    if (mine.length === 0) return;
    const key = mine.join(',');
    if (!classKey.has(key)) {
      classKey.set(key, classes.length);
      classes.push(mine);
    }
    (payload.principals[index] as BundlePayload['principals'][number]).limit_class = classKey.get(key) as number;
  });
  payload.limit_classes = classes;
  for (const key of payload.keys) {
    const mine = limits.flatMap((l, i) => (l.keys?.includes(key.id) === true ? [i] : []));
    if (mine.length > 0) key.limits = mine;
    else delete key.limits;
  }
}

/** The key id of a minted key (mg_<id>_<secret>_<crc>). */
export const keyIdOf = (key: string): string => key.split('_')[1] as string;
