// The bundle payload validator: standalone code generated from schemas/bundle.schema.json (the single
// source of truth) by schemas/generate.ts, so that no activation compiles the schema (see
// schemas/bundle-validator-source.ts).

import { validate } from './bundle-validator.generated.js';

/** Returns null when the value is a valid bundle payload, else a short description of the first problem. */
export function bundleSchemaProblem(value: unknown): string | null {
  if (validate(value)) return null;
  const first = validate.errors?.[0];
  return first ? `${first.instancePath || '/'} ${first.message ?? 'is invalid'}` : 'invalid payload';
}
