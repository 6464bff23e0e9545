import test from 'ava';
import { createServer, type Server } from 'node:http';
import { fetchBytes, HttpStatusError } from '../../attestors/node/cloud/http.ts';

function serve(t: import('ava').ExecutionContext, handler: Parameters<typeof createServer>[1]): Promise<string> {
  const server: Server = createServer(handler);
  t.teardown(() => { server.closeAllConnections(); server.close(); });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as { port: number }).port}/`)));
}

test('a metadata answer that never stops growing is refused on size, not buffered until the timeout', async (t) => {
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  const url = await serve(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    const pump = () => { while (res.write(chunk)) { /* fill the socket */ } };
    res.on('drain', pump);
    pump();
  });
  const err = await t.throwsAsync(fetchBytes(url, {}, 30_000), { instanceOf: HttpStatusError });
  t.is(err!.status, 413);
  t.regex(err!.message, /larger than 1048576 bytes/);
});

test('a declared oversize content-length is refused before reading the body', async (t) => {
  const url = await serve(t, (_req, res) => { res.writeHead(200, { 'content-length': String(5 << 20) }); res.write('x'); });
  const err = await t.throwsAsync(fetchBytes(url, {}, 30_000), { instanceOf: HttpStatusError });
  t.is(err!.status, 413);
});

test('an answer within the limit comes back byte for byte; an error status keeps the start of its body', async (t) => {
  const body = Buffer.from('{"ok":true}');
  const ok = await serve(t, (_req, res) => res.end(body));
  t.deepEqual(Buffer.from(await fetchBytes(ok, {}, 5000)), body);
  const bad = await serve(t, (_req, res) => { res.statusCode = 503; res.end('busy: ' + 'y'.repeat(4000)); });
  const err = await t.throwsAsync(fetchBytes(bad, {}, 5000), { instanceOf: HttpStatusError });
  t.is(err!.status, 503);
  t.regex(err!.message, /answered HTTP 503: busy: y+/);
});
