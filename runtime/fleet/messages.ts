// What a fleet's primary and its workers (--workers, fleet/primary.ts and fleet/worker.ts) say to
// each other over the cluster IPC channel. The primary serves the admin listener for the fleet and
// asks each worker for its part; everything else (the bundle, secrets, requests) each worker
// does on its own.

/** Primary -> worker: answer with your readiness or your metrics exposition. */
export interface AdminAsk {
  mg: 'admin-ask';
  id: number;
  what: 'readiness' | 'metrics';
}

/** Worker -> primary. */
export interface AdminReply {
  mg: 'admin-reply';
  id: number;
  readiness?: { status: number; body: Record<string, unknown> };
  metrics?: string;
}

export const isAdminAsk = (message: unknown): message is AdminAsk => (message as AdminAsk | null)?.mg === 'admin-ask';
export const isAdminReply = (message: unknown): message is AdminReply => (message as AdminReply | null)?.mg === 'admin-reply';
