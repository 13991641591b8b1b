// A Server-Sent Events subscription that survives server restarts. EventSource reconnects by
// itself and sends Last-Event-ID (for alerts: the last event's resume token, valid on any
// instance of the database), which the server maps to WatchAlerts' resume cursor; when the
// browser gives up (the server answered an error, e.g. 401 after it forgot the session), the
// subscription reopens with the cursor in the query once `reopen()` is called.

export type StreamStatus = 'connecting' | 'live' | 'reconnecting' | 'closed';

export interface SseOptions {
  // Builds the URL; `cursor` is the last SSE id seen ('' = none yet).
  url: (cursor: string) => string;
  event: string;
  onData: (data: string, id: string) => void;
  onStatus: (s: StreamStatus) => void;
  // The browser closed the stream for good (an HTTP error answer).
  onClosed: () => void;
}

export class SseStream {
  private source: EventSource | null = null;
  private cursor = '';

  constructor(private readonly opts: SseOptions) {}

  lastEventId(): string {
    return this.cursor;
  }

  open(): void {
    this.close();
    this.opts.onStatus('connecting');
    const src = new EventSource(this.opts.url(this.cursor), { withCredentials: true });
    this.source = src;
    src.onopen = () => this.opts.onStatus('live');
    src.addEventListener(this.opts.event, (ev) => {
      const m = ev as MessageEvent<string>;
      if (m.lastEventId) this.cursor = m.lastEventId;
      this.opts.onData(m.data, m.lastEventId);
    });
    src.onerror = () => {
      if (src.readyState === EventSource.CLOSED) {
        this.opts.onStatus('closed');
        this.opts.onClosed();
      } else {
        this.opts.onStatus('reconnecting');
      }
    };
  }

  close(): void {
    this.source?.close();
    this.source = null;
  }
}
