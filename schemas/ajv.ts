// One place that builds an ajv instance, shared by the compiler (policy files) and the runtime (bundle payload).
import AjvModule, { type Ajv as AjvInstance, type Options } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { MAX_BUNDLE_LIFETIME_MS, MAX_KEY_LIFETIME_MS, parseBoundedDuration } from './formats/duration.ts';

// ajv and ajv-formats are CommonJS; under NodeNext their default export sits on .default.
type AjvClass = new (options?: Options) => AjvInstance;
const Ajv = ((AjvModule as unknown as { default?: AjvClass }).default ?? AjvModule) as unknown as AjvClass;
type AddFormats = (ajv: AjvInstance) => AjvInstance;
const addFormats = ((addFormatsModule as unknown as { default?: AddFormats }).default ?? addFormatsModule) as unknown as AddFormats;

export type { AjvInstance };

/** A strict draft-07 ajv with the standard formats (date-time, email, ...) and modelgate's bounded durations. */
export function createAjv(options: Options = {}): AjvInstance {
  const ajv = new Ajv({ strict: true, strictRequired: false, allowUnionTypes: true, ...options });
  addFormats(ajv);
  // Durations that become instants: bounded, so that created_at + lifetime is always a time a
  // bundle can hold (an unbounded "99999999999d" is past any date a JSON timestamp can say).
  ajv.addFormat('bundle-lifetime', { type: 'string', validate: (text: string) => parseBoundedDuration(text, MAX_BUNDLE_LIFETIME_MS) !== null });
  ajv.addFormat('key-lifetime', { type: 'string', validate: (text: string) => parseBoundedDuration(text, MAX_KEY_LIFETIME_MS) !== null });
  return ajv;
}
