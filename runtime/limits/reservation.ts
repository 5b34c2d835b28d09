// What a request is expected to cost before it is sent: its prompt estimated from the body's size
// (about 4 bytes a token, for English text and JSON alike), and the output it asks for at most.
// Reconciled with the provider's reported usage when the request ends (admit.ts).

export interface Reservation {
  input: number;
  output: number;
}

/** No output reservation above this (a caller's max_tokens of 1e15 must not poison a bucket's arithmetic). */
export const MAX_OUTPUT_RESERVATION = 1_000_000;

/** The tokens reserved for a request body of bodyBytes bytes with these fields. */
export function reservationOf(json: Record<string, unknown>, bodyBytes: number): Reservation {
  const asked = json.max_tokens ?? json.max_completion_tokens ?? json.max_output_tokens;
  const output = typeof asked === 'number' && Number.isFinite(asked) && asked > 0 ? Math.min(Math.ceil(asked), MAX_OUTPUT_RESERVATION) : 0;
  return { input: Math.ceil(bodyBytes / 4), output };
}
