// A worker of a fleet (--workers): a whole gateway (its own bundle poll and verification, secret
// cache, upstream pool) that listens on the port the cluster shares, and answers its primary's
// admin questions (fleet/messages.ts) from its own readiness and metrics.
import { isAdminAsk } from './messages.ts';

export interface WorkerParts {
  readiness(): { status: number; body: Record<string, unknown> };
  metrics(): Promise<string>;
}

/** Answers the primary's questions until the IPC channel closes. */
export function answerPrimary(parts: WorkerParts): void {
  process.on('message', (message: unknown) => {
    if (!isAdminAsk(message)) return;
    const reply = (extra: object): void => {
      if (process.connected) process.send?.({ mg: 'admin-reply', id: message.id, ...extra });
    };
    if (message.what === 'readiness') reply({ readiness: parts.readiness() });
    else
      parts.metrics().then(
        (metrics) => reply({ metrics }),
        () => reply({ metrics: '' }),
      );
  });
}
