// HTTP client for dispatch-server's /api/v1 (docs/http-api.md): the JSON form of the gRPC
// operator services. Every state-changing request carries the session's CSRF token; the session
// itself is the HttpOnly cookie, which JavaScript never sees.

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

let csrfToken = '';

export function setCsrfToken(token: string): void {
  csrfToken = token;
}

// Listeners told when any call answers 401 (session expired or ended elsewhere).
const unauthenticatedListeners: Array<() => void> = [];
export function onUnauthenticated(fn: () => void): void {
  unauthenticatedListeners.push(fn);
}

async function errorFrom(res: Response): Promise<ApiError> {
  let code = `HTTP_${res.status}`;
  let message = res.statusText;
  try {
    const body = (await res.json()) as { code?: string; message?: string };
    code = body.code ?? code;
    message = body.message ?? message;
  } catch {
    // Not JSON (a proxy's error page): keep the status line.
  }
  return new ApiError(res.status, code, message);
}

export async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  const res = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
    cache: 'no-store',
  });
  if (!res.ok) {
    const err = await errorFrom(res);
    if (res.status === 401 && !path.endsWith('/session')) {
      for (const fn of unauthenticatedListeners) fn();
    }
    throw err;
  }
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

// One unary RPC, e.g. rpc('cit.v1.Alerts', 'AckAlert', {alertId: '42', comment: 'on it'}).
export function rpc<T>(service: string, method: string, req: object = {}): Promise<T> {
  return request<T>('POST', `/api/v1/${service}/${method}`, req);
}

// A run's stored track, read page by page (GetTrack answers at most 5,000 records at a time),
// so a 24 h run reads like a short one.
export async function readTrack<R>(runId: string): Promise<R[]> {
  const records: R[] = [];
  let pageToken = '';
  do {
    const page = await rpc<{ records?: R[]; nextPageToken?: string }>('cit.v1.Audit', 'GetTrack', {
      runId,
      pageSize: 5000,
      pageToken,
    });
    for (const r of page.records ?? []) records.push(r);
    pageToken = page.nextPageToken ?? '';
  } while (pageToken);
  return records;
}

// A run's export as a file: GET of StreamExport, which the server streams in chunks as it reads
// the run page by page, so a run of any length downloads (the unary ExportRun stops at 3 MiB).
// An error before the document begins (unknown run, role, server busy) is JSON like any call's;
// a transfer cut short rejects (fetch sees the missing last chunk), never a short file.
export async function fetchExport(runId: string, format: string): Promise<{ blob: Blob; fileName: string }> {
  const query = new URLSearchParams({ runId, format });
  const res = await fetch(`/api/v1/cit.v1.Audit/StreamExport?${query}`, {
    credentials: 'same-origin',
    cache: 'no-store',
  });
  if (!res.ok) {
    const err = await errorFrom(res);
    if (res.status === 401) for (const fn of unauthenticatedListeners) fn();
    throw err;
  }
  const disposition = res.headers.get('Content-Disposition') ?? '';
  const fileName = /filename="([^"]+)"/.exec(disposition)?.[1] ?? 'export';
  return { blob: await res.blob(), fileName };
}

export interface ConsoleConfig {
  tileUrl: string;
  tileAttribution: string;
  serverName: string;
}

export async function loadConfig(): Promise<ConsoleConfig> {
  try {
    const c = await request<Partial<ConsoleConfig>>('GET', '/api/v1/config');
    return { tileUrl: c.tileUrl ?? '', tileAttribution: c.tileAttribution ?? '', serverName: c.serverName ?? '' };
  } catch {
    return { tileUrl: '', tileAttribution: '', serverName: '' };
  }
}
