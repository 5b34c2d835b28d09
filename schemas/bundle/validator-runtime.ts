// The two ajv helpers the generated bundle validator (bundle-validator.generated.js) calls: ajv's
// standalone code require()s them, which an ES module cannot, so schemas/generate.ts points it
// here. They are CommonJS, and a default import of CommonJS differs between node, vitest and
// esbuild (module.exports or its .default): each is looked up in whichever it got.

import * as ucs2lengthModule from 'ajv/dist/runtime/ucs2length.js';
import * as formatsModule from 'ajv-formats/dist/formats.js';

type Loose = { default?: unknown; fullFormats?: unknown };
const functionIn = (m: unknown): ((text: string) => number) => (typeof m === 'function' ? (m as (text: string) => number) : functionIn((m as Loose).default));

/** String length in code points, as maxLength and minLength count. */
export const ucs2length = functionIn(ucs2lengthModule);
/** ajv-formats' formats (date-time, ...), as createAjv (schemas/ajv.ts) adds them. */
export const fullFormats = ((formatsModule as Loose).fullFormats ?? ((formatsModule as Loose).default as Loose).fullFormats) as Record<string, unknown>;
