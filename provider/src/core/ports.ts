/**
 * Policy ports (beyond the Go tool): `"tcp/5432"`, `"udp/53"`, `"tcp/8000-8100"`, `"icmp"`. A policy
 * without `ports` allows every protocol and port; with `ports` only the listed ones (ICMP only with
 * `"icmp"`). A policy test names one concrete probe: `"tcp/5432"`, `"udp/53"` or `"icmp"`. Pure.
 */

export type PortSpec =
  | { proto: "tcp" | "udp"; first: number; last: number }
  | { proto: "icmp" };

export const PORT_SYNTAX = `"tcp/5432", "udp/53", "tcp/8000-8100" or "icmp"`;

/** A parsed spec, or the reason it is not one (a sentence fragment: "… is not …; write …"). */
export function parsePortSpec(text: unknown): { ok: true; spec: PortSpec } | { ok: false; why: string } {
  if (typeof text !== "string") return { ok: false, why: `must be a string such as ${PORT_SYNTAX}` };
  if (text === "icmp") return { ok: true, spec: { proto: "icmp" } };
  const m = /^(tcp|udp)\/(\d{1,5})(?:-(\d{1,5}))?$/.exec(text);
  if (!m) {
    const lower = text.trim().toLowerCase();
    const hint = lower !== text && parsePortSpec(lower).ok ? `; write it in lower case without spaces: ${JSON.stringify(lower)}` : `; write ${PORT_SYNTAX}`;
    return { ok: false, why: `is not a port${hint}` };
  }
  const proto = m[1] as "tcp" | "udp";
  const first = Number(m[2]);
  const last = m[3] === undefined ? first : Number(m[3]);
  for (const p of [first, last]) {
    if (p < 1 || p > 65535) return { ok: false, why: `has port ${p}, out of range; use ports 1–65535 (e.g. "${proto}/5432")` };
  }
  if (last < first) return { ok: false, why: `is a reversed range; write the lower port first: "${proto}/${last}-${first}"` };
  return { ok: true, spec: { proto, first, last } };
}

/** A single probe (policy tests): one port, no range. */
export function parseProbePort(text: unknown): { ok: true; spec: PortSpec } | { ok: false; why: string } {
  const r = parsePortSpec(text);
  if (r.ok && r.spec.proto !== "icmp" && r.spec.first !== r.spec.last) {
    return { ok: false, why: `is a range; a policy test probes one port, e.g. "${r.spec.proto}/${r.spec.first}"` };
  }
  if (!r.ok && typeof text === "string" && /^(tcp|udp|icmp)$/.test(text) && text !== "icmp") {
    return { ok: false, why: `has no port; write e.g. "${text}/${text === "tcp" ? 5432 : 53}"` };
  }
  return r;
}

export function formatPortSpec(spec: PortSpec): string {
  if (spec.proto === "icmp") return "icmp";
  return spec.first === spec.last ? `${spec.proto}/${spec.first}` : `${spec.proto}/${spec.first}-${spec.last}`;
}

/** Whether `probe` (one port, or icmp) is allowed by `ports` (null = every protocol and port). */
export function portsAllow(ports: readonly PortSpec[] | null, probe: PortSpec): boolean {
  if (ports === null) return true;
  return ports.some((s) => {
    if (s.proto !== probe.proto) return false;
    if (s.proto === "icmp" || probe.proto === "icmp") return true;
    return probe.first >= s.first && probe.last <= s.last;
  });
}

/** Parsed specs of a validated policy's `ports` (null = all); throws on an invalid entry (validate first). */
export function policyPortSpecs(ports: readonly string[] | null): PortSpec[] | null {
  if (ports === null) return null;
  return ports.map((p) => {
    const r = parsePortSpec(p);
    if (!r.ok) throw new Error(`ports entry ${JSON.stringify(p)} ${r.why}`);
    return r.spec;
  });
}
