import test from 'ava';
import { interleaved } from '../../bench/issuance.ts';

test('interleaved slices: every case runs, prepare announces each slice exactly, op indices never repeat', async (t) => {
  const seen = new Set<number>();
  const slices: { prepared: number; ran: number }[] = [];
  let batches = 0;
  const rates = await interleaved({
    plain: { per: 4, op: (i) => { t.false(seen.has(i)); seen.add(i); } },
    prepared: {
      per: 4,
      prepare: (count) => slices.push({ prepared: count, ran: 0 }),
      op: (i) => { t.false(seen.has(i)); seen.add(i); slices[slices.length - 1]!.ran++; },
    },
    batched: { per: 8, op: () => 0, batch: async (i) => { t.false(seen.has(i)); seen.add(i); batches++; } },
  }, 0.02, 1);
  t.deepEqual(Object.keys(rates), ['plain', 'prepared', 'batched']);
  for (const r of Object.values(rates)) t.true(Number.isFinite(r) && r > 0);
  t.true(slices.length > 3);
  for (const s of slices) t.is(s.ran, s.prepared);
  t.is(batches % 8, 0);
});
