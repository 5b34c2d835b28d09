// The activation gate (checkActivation in runtime/bundle/activate.ts), in process: audience, the
// serial floor against rollback and serial reuse, expiry, in that order.
import { describe, expect, it } from 'vitest';
import { checkActivation, type ActivationGate, type SerialFloor } from '../../runtime/bundle/activate.ts';
import { BundleError, type BundleErrorCode } from '../../schemas/bundle/bundle-error.ts';
import type { VerifiedBundle } from '../../schemas/bundle/verify.ts';
import type { BundlePayload } from '../../schemas/types.generated.ts';

const NOW = Date.parse('2026-12-01T00:00:00Z');

const bundle = (serial: number, digest: string, overrides: Partial<BundlePayload> = {}): VerifiedBundle => ({
  payload: { audience: 'gw', serial, expires_at: '2026-12-02T00:00:00Z', ...overrides } as BundlePayload,
  digest,
  keyid: 'k',
});
const gate = (overrides: Partial<ActivationGate> = {}): ActivationGate => ({ audience: 'gw', active: null, floor: null, nowMs: NOW, acceptExpired: false, ...overrides });
const at = (serial: number, digest: string): SerialFloor => ({ serial, digest });

function refusal(run: () => unknown): { code: BundleErrorCode; message: string } {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(BundleError);
    return { code: (error as BundleError).code, message: (error as BundleError).message };
  }
  throw new Error('expected a BundleError, nothing was thrown');
}

describe('when nothing was activated before', () => {
  it('activates a bundle for this audience', () => {
    expect(checkActivation(bundle(1, 'a'), gate())).toBe('activate');
  });
});

describe('when the bundle is for another audience', () => {
  it('refuses MG_BUNDLE_AUDIENCE, naming both, before any serial check', () => {
    expect(refusal(() => checkActivation(bundle(1, 'a', { audience: 'other' }), gate({ floor: at(5, 'x') })))).toEqual({
      code: 'MG_BUNDLE_AUDIENCE',
      message: 'the bundle is for audience "other", this gateway serves "gw"',
    });
  });
});

describe('when the bundle serial is older', () => {
  it('refuses MG_BUNDLE_ROLLBACK against the active bundle and against the floor, whichever is higher', () => {
    expect(refusal(() => checkActivation(bundle(4, 'a'), gate({ active: at(5, 'x') })))).toEqual({
      code: 'MG_BUNDLE_ROLLBACK',
      message: 'bundle serial 4 is older than serial 5 already activated',
    });
    expect(refusal(() => checkActivation(bundle(4, 'a'), gate({ floor: at(5, 'x') }))).code).toBe('MG_BUNDLE_ROLLBACK');
    expect(refusal(() => checkActivation(bundle(6, 'a'), gate({ active: at(3, 'x'), floor: at(7, 'y') }))).message).toBe('bundle serial 6 is older than serial 7 already activated');
    expect(refusal(() => checkActivation(bundle(6, 'a'), gate({ active: at(7, 'y'), floor: at(3, 'x') }))).message).toBe('bundle serial 6 is older than serial 7 already activated');
  });

  it('activates a newer serial', () => {
    expect(checkActivation(bundle(6, 'a'), gate({ active: at(5, 'x'), floor: at(5, 'x') }))).toBe('activate');
    expect(checkActivation(bundle(8, 'a'), gate({ active: at(3, 'x'), floor: at(7, 'y') }))).toBe('activate');
  });
});

describe('when the bundle has the serial already activated', () => {
  it('answers unchanged for the active bundle seen again', () => {
    expect(checkActivation(bundle(5, 'x'), gate({ active: at(5, 'x'), floor: at(5, 'x') }))).toBe('unchanged');
    expect(checkActivation(bundle(5, 'x'), gate({ active: at(5, 'x') }))).toBe('unchanged');
  });

  it('refuses MG_BUNDLE_SERIAL_CONFLICT for other content under that serial', () => {
    expect(refusal(() => checkActivation(bundle(5, 'y'), gate({ active: at(5, 'x') })))).toEqual({
      code: 'MG_BUNDLE_SERIAL_CONFLICT',
      message: 'bundle serial 5 was already activated with different content: two different bundles carry one serial',
    });
    expect(refusal(() => checkActivation(bundle(5, 'y'), gate({ active: at(4, 'w'), floor: at(5, 'x') }))).code).toBe('MG_BUNDLE_SERIAL_CONFLICT');
  });

  it('activates the floor bundle again when nothing is active (a restart), and when another is', () => {
    expect(checkActivation(bundle(5, 'x'), gate({ floor: at(5, 'x') }))).toBe('activate');
    expect(checkActivation(bundle(5, 'x'), gate({ active: at(4, 'w'), floor: at(5, 'x') }))).toBe('activate');
  });
});

describe('when the bundle has expired', () => {
  it('refuses MG_BUNDLE_EXPIRED from expires_at on, unless expired bundles are accepted', () => {
    const expiresAt = { expires_at: '2026-12-01T00:00:00Z' };
    expect(checkActivation(bundle(1, 'a', expiresAt), gate({ nowMs: NOW - 1 }))).toBe('activate');
    expect(refusal(() => checkActivation(bundle(1, 'a', expiresAt), gate()))).toEqual({ code: 'MG_BUNDLE_EXPIRED', message: 'the bundle expired at 2026-12-01T00:00:00Z' });
    expect(checkActivation(bundle(1, 'a', expiresAt), gate({ acceptExpired: true }))).toBe('activate');
  });

  it('answers unchanged for the active bundle seen again, even expired', () => {
    expect(checkActivation(bundle(5, 'x', { expires_at: '2026-11-01T00:00:00Z' }), gate({ active: at(5, 'x') }))).toBe('unchanged');
  });

  it('refuses rollback before expiry', () => {
    expect(refusal(() => checkActivation(bundle(4, 'a', { expires_at: '2026-11-01T00:00:00Z' }), gate({ active: at(5, 'x'), acceptExpired: true }))).code).toBe('MG_BUNDLE_ROLLBACK');
  });
});
