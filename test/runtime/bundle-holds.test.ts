// A replaced bundle's tables (runtime/bundle/holds.ts): released, that is detached and freed, once
// the bundle is replaced and the last request on it has ended; never before, in either order.
import { describe, expect, it } from 'vitest';
import { BundleHolds } from '../../runtime/bundle/holds.ts';

const tables = (): ArrayBuffer[] => [new ArrayBuffer(1024), new ArrayBuffer(64)];

describe('a bundle with requests on it when it is replaced', () => {
  it('keeps its tables until the last request gives it back, then detaches them', () => {
    const buffers = tables();
    const holds = new BundleHolds(buffers);
    holds.take();
    holds.take();
    holds.replace();
    holds.give();
    expect(holds.released).toBe(false);
    expect(buffers.map((b) => b.byteLength)).toEqual([1024, 64]);
    holds.give();
    expect(holds.held).toBe(0);
    expect(holds.released).toBe(true);
    expect(buffers.map((b) => b.byteLength)).toEqual([0, 0]);
  });
});

describe('a bundle whose requests have all ended', () => {
  it('keeps its tables while it is the active one, and releases them when it is replaced', () => {
    const buffers = tables();
    const holds = new BundleHolds(buffers);
    holds.take();
    holds.give();
    expect(holds.released).toBe(false);
    expect(buffers[0]?.byteLength).toBe(1024);
    holds.replace();
    expect(holds.released).toBe(true);
    expect(buffers[0]?.byteLength).toBe(0);
  });
});

describe('a bundle compiled in process (no transferred tables)', () => {
  it('has nothing to release', () => {
    const holds = new BundleHolds();
    holds.replace();
    expect(holds.released).toBe(false);
  });
});
