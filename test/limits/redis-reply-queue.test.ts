// runtime/limits/redis-reply-queue.ts: node-redis's queue of commands waiting for replies, once the
// Redis store is loaded, unlinks each node it hands out, and still behaves as a queue (order, length,
// iteration, the 'empty' event its client waits for). The store's own tests run against a real Redis
// with it in place (stores.test.ts, fleet-limits tests).
import { EmptyAwareSinglyLinkedList, SinglyLinkedList } from '@redis/client/dist/lib/client/linked-list.js';
import { describe, expect, it } from 'vitest';
import '../../runtime/limits/redis-store.ts';

describe("node-redis's reply queue, patched by the Redis store", () => {
  it('is patched once the store is loaded', () => {
    expect(SinglyLinkedList.prototype.shift.name).toBe('shiftAndUnlink');
  });

  it('hands out values in order and leaves the node it took pointing at nothing', () => {
    const queue = new SinglyLinkedList<string>();
    queue.push('a');
    queue.push('b');
    queue.push('c');
    const first = queue.head;
    expect(queue.shift()).toBe('a');
    expect(first?.next).toBeUndefined();
    expect(first?.value).toBeUndefined();
    expect(queue.length).toBe(2);
    expect([...queue]).toEqual(['b', 'c']);
    expect(queue.shift()).toBe('b');
    expect(queue.shift()).toBe('c');
    expect(queue.shift()).toBeUndefined();
    expect(queue.length).toBe(0);
    queue.push('d');
    expect([...queue]).toEqual(['d']);
  });

  it("still tells its client when it empties (the 'empty' event)", () => {
    const queue = new EmptyAwareSinglyLinkedList<number>();
    let emptied = 0;
    queue.events.on('empty', () => emptied++);
    queue.push(1);
    queue.push(2);
    expect(queue.shift()).toBe(1);
    expect(emptied).toBe(0);
    expect(queue.shift()).toBe(2);
    expect(emptied).toBe(1);
  });
});
