/** Seconds as a short human duration: 42s, 5m 26s, 2h 10m, 3d 4h; "—" when not known (yet). */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '—';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3600)}h`;
}

/** Time left as a human duration, "unknown" while no rate is measured (never a raw number of seconds, never INF). */
export function formatEta(seconds: number | null | undefined): string {
  return seconds === null || seconds === undefined || !Number.isFinite(seconds) ? 'unknown' : formatDuration(seconds);
}
