// The bundle payload validator, compiled once from schemas/bundle.schema.json (the single source of truth).

import { createAjv } from '../ajv.ts';
import bundleSchema from '../bundle.schema.json' with { type: 'json' };
import type { BundlePayload } from '../types.generated.ts';

const validate = createAjv({ allErrors: false }).compile<BundlePayload>(bundleSchema);

/** Returns null when the value is a valid bundle payload, else a short description of the first problem. */
export function bundleSchemaProblem(value: unknown): string | null {
  if (validate(value)) return null;
  const first = validate.errors?.[0];
  return first ? `${first.instancePath || '/'} ${first.message ?? 'is invalid'}` : 'invalid payload';
}
