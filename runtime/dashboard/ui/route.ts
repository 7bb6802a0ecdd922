// Hash routing: `#/workflows?status=ERROR&name=x`, `#/workflow/<id>`, `#/queues`... The hash
// holds the whole view, filters included, so a reload, a bookmark or a link shows the same list,
// and a refresh never loses the filter.
import { useEffect, useState } from 'preact/hooks';

export interface Route {
  /** 'workflows', 'workflow', 'queues', 'schedules', 'executors' */
  page: string;
  /** the rest of the path, decoded (a workflow's ID) */
  arg: string;
  params: URLSearchParams;
}

export function parse(hash: string): Route {
  const [path = '', query = ''] = hash.replace(/^#\/?/, '').split('?', 2) as [string?, string?];
  const slash = path.indexOf('/');
  const page = (slash < 0 ? path : path.slice(0, slash)) || 'workflows';
  let arg = slash < 0 ? '' : path.slice(slash + 1);
  try {
    arg = decodeURIComponent(arg);
  } catch {
    // a hand-edited hash with a stray '%': take it as written
  }
  return { page, arg, params: new URLSearchParams(query) };
}

/** The hash of a page with its query (empty values left out). */
export function href(page: string, arg = '', params: Record<string, string | undefined> = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v) q.set(k, v);
  const qs = q.toString();
  return `#/${page}${arg ? `/${encodeURIComponent(arg)}` : ''}${qs ? `?${qs}` : ''}`;
}

const listeners = new Set<() => void>();

/**
 * Goes to `hash`. `replace` for a filter being typed: one history entry per keystroke would make
 * the back button useless.
 */
export function navigate(hash: string, replace = false): void {
  if (replace) {
    history.replaceState(null, '', hash);
    for (const l of listeners) l();
  } else {
    location.hash = hash;
  }
}

/** The current route, re-read on every change of the hash. */
export function useRoute(): Route {
  const [route, setRoute] = useState(() => parse(location.hash));
  useEffect(() => {
    const update = () => setRoute(parse(location.hash));
    window.addEventListener('hashchange', update);
    listeners.add(update);
    return () => {
      window.removeEventListener('hashchange', update);
      listeners.delete(update);
    };
  }, []);
  return route;
}
