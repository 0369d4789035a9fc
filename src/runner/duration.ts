/** Seconds as a short human duration: 42s, 3m05s, 2h10m; "—" when not known (yet). */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || Number.isNaN(seconds)) return '—';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
