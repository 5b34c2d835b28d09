// Credentials in URLs leak into proxy logs, browser history and Referer headers: refuse them
// outright (and never log the URL) instead of silently ignoring them.
const CREDENTIAL_PARAMS = /(?:^|&)(?:api[-_]?key|key|access[-_]?token|token|auth|authorization|bearer)=/i;
const OUR_KEY = /(?:^|[=&])mg_[0-9A-Za-z]/;

/** True when the URL's query string carries something that looks like a credential. */
export function queryHasCredential(url: string): boolean {
  const q = url.indexOf('?');
  if (q < 0) return false;
  const query = url.slice(q + 1);
  let decoded = query;
  try {
    decoded = decodeURIComponent(query);
  } catch {
    // keep the raw text: a broken escape is no excuse to let a key through
  }
  return CREDENTIAL_PARAMS.test(query) || CREDENTIAL_PARAMS.test(decoded) || OUR_KEY.test(decoded);
}
