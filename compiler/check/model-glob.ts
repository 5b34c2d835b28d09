// Model references in rules and on the command line: `account/model`, or a minimatch glob over
// those names. Any minimatch special character makes a reference a glob.
const GLOB_CHARS = /[*?[\]{}!]/;

/** True when `reference` is a glob rather than a literal name. */
export function isGlob(reference: string): boolean {
  return GLOB_CHARS.test(reference);
}
