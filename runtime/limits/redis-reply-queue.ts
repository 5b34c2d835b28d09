// A fix to node-redis (6.3.1, the latest): the queue of commands waiting for their replies is a
// singly linked list whose shift() leaves the node it takes pointing at the next node, and at its
// command. Once one such node reached V8's old generation, every node after it was held from there:
// the commands, their arguments (our batches of meters) and replies outlived the young collections
// and were promoted until the next full collection, command after command (the Redis gateway's
// scavenges promoted about 1.8 MB each, against 24 KB with limits off; docs/limits.md). Here shift()
// unlinks the node it takes. Imported for its effect by redis-store.ts
// (test/limits/redis-reply-queue.test.ts checks that the patch is in place and the queue still works).
import { SinglyLinkedList } from '@redis/client/dist/lib/client/linked-list.js';

const shift = SinglyLinkedList.prototype.shift;

SinglyLinkedList.prototype.shift = function shiftAndUnlink<T>(this: SinglyLinkedList<T>): T | undefined {
  const node = this.head;
  const value = shift.call(this) as T | undefined;
  if (node !== undefined) {
    node.next = undefined;
    (node as { value: T | undefined }).value = undefined;
  }
  return value;
};
