// The in-flight registry (runtime/lifecycle/in-flight.ts): slots in an array instead of a Set (a
// Set kept its requests' objects alive past young collections). What the drain relies on: every
// open call is cut once, a finished call is never cut, and a slot freed and taken again belongs
// to its new call only.
import { describe, expect, it } from 'vitest';
import { type CuttableCall, InFlightCalls } from '../../runtime/lifecycle/in-flight.ts';

function call(name: string, cut: string[]): CuttableCall {
  return { cut: () => cut.push(name) };
}

describe('the in-flight registry', () => {
  it('cuts exactly the calls still open, each once, and counts them', () => {
    const cut: string[] = [];
    const calls = new InFlightCalls();
    const a = call('a', cut);
    const b = call('b', cut);
    const c = call('c', cut);
    const slotA = calls.add(a);
    const slotB = calls.add(b);
    calls.add(c);
    calls.delete(slotB, b);
    expect(calls.size).toBe(2);
    expect(calls.cutAll()).toBe(2);
    expect(cut.sort()).toEqual(['a', 'c']);
    calls.delete(slotA, a);
    expect(calls.size).toBe(1);
  });

  it('gives a freed slot to the next call, and a stale delete leaves its new owner in place', () => {
    const cut: string[] = [];
    const calls = new InFlightCalls();
    const a = call('a', cut);
    const b = call('b', cut);
    const slot = calls.add(a);
    calls.delete(slot, a);
    expect(calls.add(b)).toBe(slot);
    // a's ending running twice (or late) must not remove b.
    calls.delete(slot, a);
    expect(calls.size).toBe(1);
    expect(calls.cutAll()).toBe(1);
    expect(cut).toEqual(['b']);
  });

  it('holds thousands of calls in and out without growing past the most open at once', () => {
    const calls = new InFlightCalls();
    const open: [number, CuttableCall][] = [];
    let highest = 0;
    for (let i = 0; i < 5_000; i++) {
      const c = call(String(i), []);
      const slot = calls.add(c);
      highest = Math.max(highest, slot);
      open.push([slot, c]);
      if (open.length > 8) {
        const [s, done] = open.shift() as [number, CuttableCall];
        calls.delete(s, done);
      }
    }
    expect(calls.size).toBe(8);
    expect(highest).toBeLessThan(9);
  });
});
