/**
 * A Server-Sent Events parser (WHATWG HTML "Interpreting an event stream"): lines
 * end in CRLF, LF or CR (a CR at the end of one chunk and the LF at the start of
 * the next are one line end); `:` lines are comments; `data` lines accumulate,
 * joined by LF; a blank line dispatches; a field without a colon has an empty
 * value; one leading space after the colon is dropped; an event without data is not
 * dispatched; a leading BOM is skipped. Feed it decoded text (setEncoding('utf8')
 * keeps multi-byte characters whole across chunks).
 */
export interface SseEvent {
  /** `event` field; "message" when absent. */
  event: string;
  data: string;
  /** Last event ID seen on the stream (persists across events, per spec). */
  id: string;
}

export class SseParser {
  private buf = '';
  private pendingCr = false;
  private started = false;
  private event = '';
  private data: string[] = [];
  private lastId = '';
  /** The latest `retry` field, in ms. */
  retryMs: number | undefined;

  constructor(private readonly onEvent: (e: SseEvent) => void) {}

  push(chunk: string): void {
    let text = chunk;
    if (!this.started && text.length > 0) {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    if (this.pendingCr) {
      this.pendingCr = false;
      if (text.startsWith('\n')) text = text.slice(1);
    }
    this.buf += text;
    let start = 0;
    for (;;) {
      const cr = this.buf.indexOf('\r', start);
      const lf = this.buf.indexOf('\n', start);
      if (cr === -1 && lf === -1) break;
      const end = cr === -1 ? lf : lf === -1 ? cr : Math.min(cr, lf);
      const line = this.buf.slice(start, end);
      if (this.buf[end] === '\r') {
        if (end + 1 === this.buf.length) { this.pendingCr = true; start = end + 1; this.line(line); break; }
        start = this.buf[end + 1] === '\n' ? end + 2 : end + 1;
      } else {
        start = end + 1;
      }
      this.line(line);
    }
    this.buf = this.buf.slice(start);
  }

  /** End of stream: an event not terminated by a blank line is discarded (per spec). */
  end(): void {
    this.buf = ''; this.pendingCr = false; this.event = ''; this.data = [];
  }

  private line(line: string): void {
    if (line.length === 0) { this.dispatch(); return; }
    if (line.charCodeAt(0) === 0x3a /* : */) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 0x20) value = value.slice(1);
    switch (field) {
      case 'event': this.event = value; break;
      case 'data': this.data.push(value); break;
      case 'id': if (!value.includes('\0')) this.lastId = value; break;
      case 'retry': if (/^[0-9]+$/.test(value)) this.retryMs = Number(value); break;
      default: break; // unknown fields are ignored
    }
  }

  private dispatch(): void {
    const event = this.event || 'message';
    const data = this.data;
    this.event = ''; this.data = [];
    if (data.length === 0) return;
    this.onEvent({ event, data: data.join('\n'), id: this.lastId });
  }
}
