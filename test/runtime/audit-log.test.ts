// The audit log on its own (runtime/audit/audit-log.ts), on real files: whole lines, a reopen
// after a rename (logrotate), and a destination that fails: loud, unhealthy, lines kept and
// written once it works again, and a bound on what is kept.

import { mkdirSync } from 'node:fs';
import { mkdtemp, readFile, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuditLog, type AuditLogEvents, atomicGroups, openAuditLog } from '../../runtime/audit/audit-log.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mg-audit-log-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const fields = (i: number): string => `,"audit":true,"request_id":"r-${i}","method":"POST","route":"/v1/chat/completions","status":200,"latency_ms":1`;

function recorder(): AuditLogEvents & { failures: string[]; lost: number; recoveries: number } {
  const events = {
    failures: [] as string[],
    lost: 0,
    recoveries: 0,
    writeFailed(error: NodeJS.ErrnoException, lost: number) {
      events.failures.push(error.code ?? 'error');
      events.lost += lost;
    },
    recovered() {
      events.recoveries += 1;
    },
  };
  return events;
}

const ids = async (path: string): Promise<string[]> =>
  (await readFile(path, 'utf8'))
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => (JSON.parse(l) as { request_id: string }).request_id);

describe('when several workers share one pipe (--workers)', () => {
  it('groups whole lines into writes of at most PIPE_BUF bytes, counting UTF-8 bytes, a longer line alone', () => {
    const lines = [...Array.from({ length: 60 }, (_, i) => `{"i":${i},"model":"${'é'.repeat(i * 7)}"}\n`), `{"long":"${'x'.repeat(5000)}"}\n`, '{"after":1}\n'];
    const groups = atomicGroups(lines, 4096);
    expect(groups.join('')).toBe(lines.join(''));
    expect(groups.length).toBeGreaterThan(2);
    for (const group of groups) {
      expect(group.endsWith('\n')).toBe(true);
      if (!group.includes('"long"')) expect(Buffer.byteLength(group)).toBeLessThanOrEqual(4096);
    }
    expect(groups.find((g) => g.includes('"long"'))).toBe(lines[60]);
  });

  it('still writes every line whole and in order with atomic writes on', async () => {
    const path = join(dir, 'atomic.log');
    const log = openAuditLog(path, recorder(), { maxPending: 64 * 1024, atomicWriteBytes: 4096 });
    for (let i = 0; i < 500; i++) log.write(fields(i));
    log.flushSync();
    expect(await ids(path)).toEqual(Array.from({ length: 500 }, (_, i) => `r-${i}`));
  });
});

describe('when lines go to a file', () => {
  it('appends whole JSON lines, in order, batched until flushed', async () => {
    const path = join(dir, 'order.log');
    const log = openAuditLog(path, recorder(), { maxPending: 1024 });
    for (let i = 0; i < 500; i++) log.write(fields(i));
    log.flushSync();
    expect(await ids(path)).toEqual(Array.from({ length: 500 }, (_, i) => `r-${i}`));
    expect(log.healthy).toBe(true);
  });

  it('writes to a new file after the old one was renamed and the log reopened (SIGHUP)', async () => {
    const path = join(dir, 'rotate.log');
    const log = openAuditLog(path, recorder());
    log.write(fields(1));
    log.flushSync();
    await rename(path, `${path}.1`);
    log.write(fields(2)); // pending at the signal: written to the old file before it is closed
    log.reopen();
    log.write(fields(3));
    log.flushSync();
    expect(await ids(`${path}.1`)).toEqual(['r-1', 'r-2']);
    expect(await ids(path)).toEqual(['r-3']);
    expect((await stat(path)).mode & 0o777).toBe(0o640);
  });
});

describe('when the destination cannot be written', () => {
  it('reports the failure, turns unhealthy, keeps the lines and writes them once it can', async () => {
    const missing = join(dir, 'not-yet', 'audit.log');
    const events = recorder();
    const log: AuditLog = openAuditLog(missing, events);
    // Known at once (the file is opened at start), before any line is written.
    expect(log.healthy).toBe(false);
    expect(events.failures).toEqual(['ENOENT']);
    log.write(fields(1));
    log.write(fields(2));
    log.flushSync();
    expect(log.healthy).toBe(false);
    expect(events.failures).toEqual(['ENOENT', 'ENOENT']);
    expect(events.lost).toBe(0);
    mkdirSync(join(dir, 'not-yet'));
    log.write(fields(3));
    log.flushSync();
    expect(log.healthy).toBe(true);
    expect(events.recoveries).toBe(1);
    expect(await ids(missing)).toEqual(['r-1', 'r-2', 'r-3']);
  });

  it('gives up the oldest whole lines over the retry bound, and counts them', async () => {
    const missing = join(dir, 'never', 'audit.log');
    const events = recorder();
    const lineLength = `{"level":"info","time":"2026-11-30T00:00:00.000Z","service":"modelgate"${fields(100)},"msg":"request"}\n`.length;
    const log = openAuditLog(missing, events, { maxRetained: lineLength * 10 });
    for (let i = 100; i < 130; i++) {
      log.write(fields(i));
      log.flushSync();
    }
    expect(log.healthy).toBe(false);
    expect(events.lost).toBeGreaterThanOrEqual(20);
    mkdirSync(join(dir, 'never'));
    log.write(fields(130));
    log.flushSync();
    const written = await ids(missing);
    // What was kept is the newest lines, whole, in order; with the lost ones they are all of them.
    expect(written.at(-1)).toBe('r-130');
    expect(written.length + events.lost).toBe(31);
    expect(written).toEqual(Array.from({ length: written.length }, (_, i) => `r-${131 - written.length + i}`));
  });
});
