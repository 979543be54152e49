/** Time formatting as Go prints it: RFC 3339 (seconds) in the local zone, and `peers list` ages. */

function pad(n: number, w = 2): string {
  return String(n).padStart(w, "0");
}

/** Go's time.Format(time.RFC3339) of a local time: "2027-01-15T10:00:00+02:00", or "…Z" at UTC. */
export function rfc3339Local(ms: number): string {
  const d = new Date(ms);
  const off = -d.getTimezoneOffset();
  const zone = off === 0 ? "Z" : `${off > 0 ? "+" : "-"}${pad(Math.floor(Math.abs(off) / 60))}:${pad(Math.abs(off) % 60)}`;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}${zone}`;
}

/** Parse RFC 3339 (as Go's time.Parse(time.RFC3339) accepts it); undefined if invalid. */
export function parseRfc3339(s: string): number | undefined {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(s)) return undefined;
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : t;
}

/** Go's formatDuration of `peers list`: <n>s, <n>m, <n>h or <n>d, truncated. */
export function formatAge(ms: number): string {
  const s = ms / 1000;
  if (s < 60) return `${Math.trunc(s)}s`;
  if (s < 3600) return `${Math.trunc(s / 60)}m`;
  if (s < 86400) return `${Math.trunc(s / 3600)}h`;
  return `${Math.trunc(s / 86400)}d`;
}

/** Go's log package prefix: "2006/01/02 15:04:05 " in local time. */
export function goLogPrefix(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}/${pad(d.getMonth() + 1)}/${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} `;
}
