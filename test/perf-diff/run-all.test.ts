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

test('run-all reads labels that hold numbers and punctuation of their own (the Workload API, entry → SVID and memory benches)', (t) => {
  const out = [
    'ratio x509 p50 / limit, 16 callers 1.54 (goal <= 1.3)',
    'ratio entry->SVID p99 / 50 ms, burst of 1000 0.80 (goal <= 1)',
    'ratio agent RSS with 10k SVIDs / 100 MB 2.50 (goal <= 1)',
    'ratio bytes per cached SVID / its DER 48.22',
  ].join('\n');
  t.deepEqual(parseRatios('b', out).map((r) => [r.label, r.value, r.met]), [
    ['x509 p50 / limit, 16 callers', 1.54, false],
    ['entry->SVID p99 / 50 ms, burst of 1000', 0.8, true],
    ['agent RSS with 10k SVIDs / 100 MB', 2.5, false],
    ['bytes per cached SVID / its DER', 48.22, undefined],
  ]);
});
