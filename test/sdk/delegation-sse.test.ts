import test from 'ava';
import { SseParser, type SseEvent } from '../../spiffe/delegation/sse.ts';

function parse(...chunks: string[]): { events: SseEvent[]; parser: SseParser } {
  const events: SseEvent[] = [];
  const parser = new SseParser((e) => events.push(e));
  for (const c of chunks) parser.push(c);
  return { events, parser };
}

test('dispatches an event on a blank line, with its event name and data', (t) => {
  const { events } = parse('event: snapshot\ndata: {"seq":1}\n\n');
  t.deepEqual(events, [{ event: 'snapshot', data: '{"seq":1}', id: '' }]);
});

test('joins multi-line data with LF and defaults the event name to message', (t) => {
  const { events } = parse('data: first\ndata: second\ndata:\ndata: fourth\n\n');
  t.deepEqual(events, [{ event: 'message', data: 'first\nsecond\n\nfourth', id: '' }]);
});

test('ignores comment lines and unknown fields; keeps the last event id', (t) => {
  const { events } = parse(': keep-alive\nid: 41\nevent: revocation\nfoo: bar\n: another comment\ndata: x\n\nid: 42\ndata: y\n\ndata: z\n\n');
  t.deepEqual(events.map((e) => [e.event, e.data, e.id]), [['revocation', 'x', '41'], ['message', 'y', '42'], ['message', 'z', '42']]);
});

test('accepts CRLF, CR and LF line ends, mixed', (t) => {
  const { events } = parse('event: a\r\ndata: 1\r\n\r\nevent: b\rdata: 2\r\revent: c\ndata: 3\n\n');
  t.deepEqual(events.map((e) => [e.event, e.data]), [['a', '1'], ['b', '2'], ['c', '3']]);
});

test('reassembles lines split across chunks, including a CRLF split between chunks', (t) => {
  const whole = 'event: heartbeat\r\ndata: {"seq": 9, "time": 1765099800}\r\n\r\nevent: revocation\r\ndata: {"seq":10}\r\n\r\n';
  for (let size = 1; size <= 7; size++) {
    const chunks: string[] = [];
    for (let i = 0; i < whole.length; i += size) chunks.push(whole.slice(i, i + size));
    const { events } = parse(...chunks);
    t.deepEqual(events.map((e) => [e.event, e.data]), [['heartbeat', '{"seq": 9, "time": 1765099800}'], ['revocation', '{"seq":10}']], `chunk size ${size}`);
  }
  // A CR ending one chunk and the LF starting the next are one line end, not two (no spurious blank line).
  const { events } = parse('data: a\r', '\ndata: b\r\n\r\n');
  t.deepEqual(events.map((e) => e.data), ['a\nb']);
});

test('field parsing: no colon means an empty value, only one leading space is dropped, a leading BOM is skipped', (t) => {
  const { events } = parse('\ufeffevent: x\ndata\n\n', 'data:  two spaces\ndata:nospace\n\n');
  t.deepEqual(events.map((e) => [e.event, e.data]), [['x', ''], ['message', ' two spaces\nnospace']]);
});

test('an event without data is not dispatched, and its name does not leak into the next', (t) => {
  const { events } = parse('event: heartbeat\n\ndata: later\n\n');
  t.deepEqual(events.map((e) => [e.event, e.data]), [['message', 'later']]);
});

test('an unterminated event at the end of the stream is discarded; retry is read', (t) => {
  const { events, parser } = parse('retry: 2500\ndata: complete\n\ndata: partial');
  parser.end();
  t.deepEqual(events.map((e) => e.data), ['complete']);
  t.is(parser.retryMs, 2500);
});
