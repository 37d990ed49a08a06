// Thin fetch layer: every failure becomes an ApiError carrying the daemon's RFC 9457 `detail`.

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly method: string,
    readonly path: string,
    /** True when the daemon has no handler for this path at all (not "no such device"). */
    readonly missingEndpoint: boolean,
  ) {
    super(detail);
  }

  /** One readable sentence plus where it came from. */
  describe(): string {
    if (this.status === 0) return `${this.detail} (${this.method} ${this.path})`;
    return `${this.detail} (HTTP ${this.status} from ${this.method} ${this.path})`;
  }
}

type Body = Record<string, unknown> | undefined;

/** GET /api/v1/whoami: who the daemon takes us for (the kernel's word, by the connection's socket) and what we may do. */
export interface Whoami {
  uid: number;
  pid: number;
  admin: boolean;
  via: string;
  csrfHeader: string;
  csrf: string;
}

let me: Whoami | undefined;

export async function loadWhoami(): Promise<Whoami> {
  me = await request<Whoami>('GET', '/api/v1/whoami');
  return me;
}

/** The caller, once {@link loadWhoami} answered (the app renders only after it). */
export const whoami = (): Whoami | undefined => me;
export const isAdmin = (): boolean => me?.admin === true;

export async function request<T>(method: string, path: string, body?: Body): Promise<T> {
  let res: Response;
  const headers: Record<string, string> = body === undefined ? { Accept: 'application/json' } : { Accept: 'application/json', 'Content-Type': 'application/json' };
  // Every state change carries our CSRF token: the daemon refuses one without it (or without a JSON body).
  if (method !== 'GET' && method !== 'HEAD' && me) headers[me.csrfHeader] = me.csrf;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new ApiError(0, 'The daemon did not answer: ' + String((e as Error).message ?? e), method, path, false);
  }
  const text = await res.text();
  let parsed: any = undefined;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  if (!res.ok) {
    const problem = typeof parsed === 'object' && parsed !== null ? parsed : {};
    const detail: string | undefined = problem.detail ?? problem.message;
    // Spring answers an unmapped path with its plain error body (no `detail`); a handler's own 404 has one.
    const missing = (res.status === 404 || res.status === 405) && !detail;
    const sentence = detail ?? (missing ? 'This endpoint is not available on this daemon yet' : problem.title ?? problem.error ?? res.statusText ?? 'Request failed');
    throw new ApiError(res.status, sentence, method, path, missing);
  }
  return parsed as T;
}

export const getJson = <T>(path: string) => request<T>('GET', path);
export const postJson = <T>(path: string, body: Body) => request<T>('POST', path, body ?? {});
export const del = <T>(path: string) => request<T>('DELETE', path);
