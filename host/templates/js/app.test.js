// The check's logic, natively: `npm test` (node --test).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { numericLeaves } from './json_metrics.js';

test('numbers, booleans and array items become paths', () => {
  const doc = { Uptime: 12, ok: true, name: 'x', 'Open Conns': { 'per-host': [3, 4] }, nil: null };
  assert.deepEqual(numericLeaves(doc), [
    ['uptime', 12],
    ['ok', 1],
    ['open_conns.per_host.0', 3],
    ['open_conns.per_host.1', 4],
  ]);
});

test('include keeps only the listed paths', () => {
  assert.deepEqual(numericLeaves({ a: 1, b: { c: 2 } }, ['b.c']), [['b.c', 2]]);
});
