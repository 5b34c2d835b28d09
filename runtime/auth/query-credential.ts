// Credentials in URLs leak into proxy logs, browser history and Referer headers: refuse them
// outright (and never log the URL) instead of silently ignoring them.
const CREDENTIAL_PARAMS = /(?:^|&)(?:api[-_]?key|key|access[-_]?token|token|auth|authorization|bearer)=/i;
// An mg_ key anywhere a value can start: after =, &, a space or +, a comma, a bracket... (not
// inside a word, so `img_1` is not one).
const OUR_KEY = /(?:^|[^0-9A-Za-z_])mg_[0-9A-Za-z]/;

/** True when the URL's query string carries something that looks like a credential. */
export function queryHasCredential(url: string): boolean {
  const q = url.indexOf('?');
  if (q < 0) return false;
  const query = url.slice(q + 1);
  // Form encoding: + is a space (`?q=Bearer+mg_...`).
  let decoded = query.replaceAll('+', ' ');
  try {
    decoded = decodeURIComponent(decoded);
  } catch {
    // keep the raw text: a broken escape is no excuse to let a key through
  }
  return CREDENTIAL_PARAMS.test(query) || CREDENTIAL_PARAMS.test(decoded) || OUR_KEY.test(query) || OUR_KEY.test(decoded);
}
