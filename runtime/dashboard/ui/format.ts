// How times, durations and counts read on the page.

/** A local time, to the second: "2025-01-31 14:05:09". */
export function time(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** "850 ms", "1.2 s", "3 m 20 s", "1 m", "2 h 5 m", "3 d 4 h". */
export function duration(ms: number): string {
  if (!Number.isFinite(ms)) return '—';
  const a = Math.abs(ms);
  if (a < 1000) return `${Math.round(ms)} ms`;
  if (a < 60_000) return `${(ms / 1000).toFixed(a < 10_000 ? 1 : 0)} s`;
  const s = Math.round(a / 1000);
  const sign = ms < 0 ? '-' : '';
  if (s < 3600) return two(sign, Math.floor(s / 60), 'm', s % 60, 's');
  if (s < 86_400) return two(sign, Math.floor(s / 3600), 'h', Math.floor((s % 3600) / 60), 'm');
  return two(sign, Math.floor(s / 86_400), 'd', Math.floor((s % 86_400) / 3600), 'h');
}

/** "3 m 20 s", or "1 m" where the smaller unit is 0. */
function two(sign: string, big: number, bigUnit: string, small: number, smallUnit: string): string {
  return `${sign}${big} ${bigUnit}${small ? ` ${small} ${smallUnit}` : ''}`;
}

/** From one ISO time to another (or to now), or '—' when it has not started. */
export function span(from: string | null | undefined, to: string | null | undefined, now = Date.now()): string {
  if (!from) return '—';
  return duration((to ? Date.parse(to) : now) - Date.parse(from));
}

/** "12 s ago", "in 3 m 0 s". */
export function relative(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '—';
  const ms = Date.parse(iso) - now;
  return ms >= 0 ? `in ${duration(ms)}` : `${duration(-ms)} ago`;
}

/** A `<input type="datetime-local">` value as an ISO instant (or undefined). */
export function localToIso(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}
