import test from 'ava';
import { parseRatios } from '../../bench/run-all.ts';

test('run-all reads ratio lines with and without a goal, and whether the goal is met', (t) => {
  const out = [
    'issuance bench: 2s per case',
    '  raw ECDSA P-256 sign (t_sign)        11613 /s    86.1 µs',
    '  ratio CSR path / limit                                  0.81   (goal >= 0.8)',
    '  ratio signing pool 2 threads / (2 x single core)        0.48   (goal >= 0.8)',
    '  ratio CSR path / raw sign                               0.12',
    '  ratio fetch p99 / echo p99  1.9 (goal <= 1.3)',
  ].join('\n');
  t.deepEqual(parseRatios('issuance', out), [
    { bench: 'issuance', label: 'CSR path / limit', value: 0.81, goal: { op: '>=', bound: 0.8 }, met: true },
    { bench: 'issuance', label: 'signing pool 2 threads / (2 x single core)', value: 0.48, goal: { op: '>=', bound: 0.8 }, met: false },
    { bench: 'issuance', label: 'CSR path / raw sign', value: 0.12 },
    { bench: 'issuance', label: 'fetch p99 / echo p99', value: 1.9, goal: { op: '<=', bound: 1.3 }, met: false },
  ]);
});
