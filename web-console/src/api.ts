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

export async function request<T>(method: string, path: string, body?: Body): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers: body === undefined ? { Accept: 'application/json' } : { Accept: 'application/json', 'Content-Type': 'application/json' },
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
