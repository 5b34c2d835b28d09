// Plain http:// is allowed only to this machine (tests, sidecars): one definition of "this machine".

/** True for 127.0.0.0/8, ::1 and localhost, as URL.hostname spells them. */
export function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}
