import { useCallback, useEffect, useState } from 'preact/hooks';
import { ApiError, getJson } from './api';
import { EventKind, useLiveTick } from './live';

export interface Resource<T> {
  data?: T;
  error?: ApiError;
  loading: boolean;
  reload: () => void;
}

/**
 * GETs `path` now, on reload(), and whenever a live event of one of `kinds` arrives (default: any kind;
 * [] = never). Keeps the last good data while refetching.
 */
export function useResource<T>(path: string | null, kinds?: readonly EventKind[]): Resource<T> {
  const tick = useLiveTick(kinds);
  const [own, setOwn] = useState(0);
  const [state, setState] = useState<{ data?: T; error?: ApiError; loading: boolean; path?: string | null }>({ loading: true });
  useEffect(() => {
    if (path == null) return;
    let cancelled = false;
    getJson<T>(path).then(
      (data) => !cancelled && setState({ data, loading: false, path }),
      (error: ApiError) => !cancelled && setState((s) => ({ data: s.path === path ? s.data : undefined, error, loading: false, path })),
    );
    return () => {
      cancelled = true;
    };
  }, [path, kinds?.length === 0 ? 0 : tick, own]);
  const reload = useCallback(() => setOwn((n) => n + 1), []);
  const fresh = state.path === path;
  return { data: fresh ? state.data : undefined, error: fresh ? state.error : undefined, loading: !fresh || state.loading, reload };
}
