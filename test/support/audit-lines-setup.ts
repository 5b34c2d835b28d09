// vitest setup file: after each test file, every audit line its gateways wrote (checked as they
// were written, see audit-schema.ts) must have validated against schemas/audit-line.schema.json.
import { afterAll, expect } from 'vitest';
import { auditLinesChecked } from './audit-schema.ts';

afterAll(() => {
  expect(auditLinesChecked().problems).toEqual([]);
});
