// Live data: a view names what it reads, and this keeps it fresh (every few seconds and after an
// action), keeps the last good value while a refresh fails, and drops answers that arrive after a
// newer request (a filter changed meanwhile), so the list never jumps back to an old filter.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';

export const REFRESH_MS = 3000;

export interface Live<T> {
  data: T | undefined;
  error: string | null;
  /** when the last good answer came */
  at: number | null;
  /** reload now (after an action) */
  reload: () => void;
}

/** `load()` now, whenever `key` changes, and every `everyMs` while the tab is visible. */
export function useLive<T>(load: () => Promise<T>, key: string, everyMs = REFRESH_MS): Live<T> {
  const [state, setState] = useState<{ data: T | undefined; error: string | null; at: number | null }>({
    data: undefined,
    error: null,
    at: null,
  });
  const seq = useRef(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  const reload = useCallback(() => {
    const mine = ++seq.current;
    loadRef.current().then(
      (data) => mine === seq.current && setState({ data, error: null, at: Date.now() }),
      (err: unknown) => mine === seq.current && setState((s) => ({ ...s, error: err instanceof Error ? err.message : String(err) })),
    );
  }, []);

  useEffect(() => {
    // a new key: the old data belongs to another question
    setState({ data: undefined, error: null, at: null });
    reload();
    const timer = setInterval(() => {
      if (!document.hidden) reload();
    }, everyMs);
    return () => {
      clearInterval(timer);
      seq.current++;
    };
  }, [key, everyMs, reload]);

  return { ...state, reload };
}
