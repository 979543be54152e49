/**
 * Key changes without a dead window (issue 16): what the engine adds to the diff's operations when a key
 * changes, so that tunnels come back at once instead of at WireGuard's next retry. Pure.
 *
 * Why it is needed. A node's new private key expires its sessions and WireGuard drops a handshake from a
 * static key it does not know, so a rotating node R and its peer P are cut from the moment the first of them
 * switches until both have (R: `private-key`; P: the entry for R's old key removed, one for the new key
 * added). Both switch in the same parallel apply, but whoever switches first starts a handshake the other
 * side still refuses — and WireGuard sends at most one initiation per peer every 5 s (REKEY_TIMEOUT) and
 * retries only after 5 s; the side that switches last may have nothing to send (a one-way TCP stream). The
 * window was then "skew + up to 5 s". So:
 *
 * - `handshake` right after the change, towards every peer whose session the change ends: all peers after
 *   `private-key` (the kernel and wireguard-go reset the rate limit on a new private key), a peer's entry for
 *   its new key (it replaces an entry being removed with the same AllowedIPs; a new entry's rate limit is
 *   fresh). Whichever side switches last therefore starts a handshake the other side accepts: the window is
 *   the skew between the two applies plus one round trip. A peer that is new to the mesh gets none: it may
 *   not be up yet, and a refused initiation would hold back the first real one for 5 s.
 * - A changed PSK (set, changed or removed) ends no session: `wg set … preshared-key` keeps the running
 *   session's keys (measured on wireguard-go: 75 of 75 pings over 15 s with the PSK changed on one end only,
 *   no new handshake; a keepalive then goes out on the old session, so the `handshake` step starts none
 *   either). The next handshake — WireGuard's rekey within 2 min of traffic, or the next packet of an idle
 *   pair — uses the new PSK, and while one end has switched and the other not yet, the initiator retries
 *   every 5 s on the old, still valid session (refused only 3 min after its handshake). So a PSK change gets
 *   no step here: no gap while the two ends switch within about a minute of each other. Forcing a handshake
 *   (the confirm step below used to, for the end whose key sorts first) cut the pair for 5 s whenever the
 *   other end applied more than 1 s later — Pulumi's parallel updates under load (the rotation soak saw 5.2 s).
 * - A peer behind NAT has no configured endpoint: its peers only know the address it was last seen at. When
 *   its key changes, the new entry inherits that address from the entry it replaces (matched by AllowedIPs),
 *   so the peer can start the handshake (and reach it) without waiting for the NAT'd side.
 * - Crossing initiations. When both ends switch within one round trip of each other (the engine's deploy
 *   switches every host at one moment, engine/rendezvous.ts), both start a handshake and both initiations
 *   cross on the wire. Each end answers the other's and, in doing so, forgets its own (wireguard-go's
 *   `CreateMessageResponse` drops the pending initiation's index; the kernel's handshake state is likewise
 *   one slot): both responses are then dropped and neither end may retry for 5 s (REKEY_TIMEOUT) — a 5-s
 *   gap, seen in the rotation soak. So one end of each pair (the one whose public key sorts first, a rule
 *   both ends compute alike) confirms: `handshake-confirm` waits up to HANDSHAKE_CONFIRM_SECONDS for a
 *   handshake newer than the change, and where there is none removes the peer's entry and adds it again
 *   with the same settings — a fresh entry may initiate at once — and starts a handshake. The other end is
 *   still inside its 5-s wait and only answers, so the two cannot cross again. Without a crossing (the
 *   usual case) the later end's handshake has completed by then and nothing more happens.
 */
import type { HandshakeConfirmPeer, LiveState, NodeDesiredState, Operation } from "./types";

/** How long the confirming end of a switched pair waits for the new session before it starts one afresh. */
export const HANDSHAKE_CONFIRM_SECONDS = 1;

/** The operations plus what a key change needs (see above). Unchanged when the interface is being created. */
export function withRekey(desired: NodeDesiredState, live: LiveState, ops: Operation[]): Operation[] {
  if (live.interface === null || ops.some((o) => o.kind === "interface-up")) return ops;
  const present = new Set(live.peers.map((p) => p.publicKey));
  const removed = new Set(ops.filter((o) => o.kind === "peer-remove").map((o) => o.publicKey));
  const wanted = new Map(desired.peers.map((p) => [p.publicKey, p]));

  // Addresses learned for the entries being removed, by each of their allowed IPs.
  const learned = new Map<string, string>();
  for (const p of live.peers) {
    if (!removed.has(p.publicKey) || p.endpoint === null) continue;
    for (const cidr of p.allowedIps) learned.set(cidr, p.endpoint);
  }

  const kick = new Set<string>();
  const rekeyed = ops.some((o) => o.kind === "private-key");
  if (rekeyed) for (const p of desired.peers) kick.add(p.publicKey);
  // AllowedIPs of the entries being removed: a new entry sharing one is the same peer under a new key.
  const replacedIps = new Set(live.peers.filter((p) => removed.has(p.publicKey)).flatMap((p) => p.allowedIps));
  const out = ops.map((op): Operation => {
    if (op.kind !== "peer-set" || !wanted.has(op.publicKey)) return op;
    const want = wanted.get(op.publicKey)!;
    const isNew = !present.has(op.publicKey);
    const rekeyedPeer = isNew && want.allowedIps.some((c) => replacedIps.has(c));
    if (rekeyedPeer) kick.add(op.publicKey);
    if (!rekeyedPeer || want.endpoint !== null || op.endpoint !== undefined) return op;
    const endpoint = want.allowedIps.map((c) => learned.get(c)).find((e) => e !== undefined);
    return endpoint === undefined ? op : { ...op, endpoint };
  });
  const confirm: HandshakeConfirmPeer[] = [];
  for (const p of desired.peers) {
    if (!kick.has(p.publicKey)) continue;
    out.push({ kind: "handshake", publicKey: p.publicKey, hostname: p.hostname, persistentKeepalive: p.persistentKeepalive });
    if (desired.interface.publicKey < p.publicKey) {
      confirm.push({ publicKey: p.publicKey, hostname: p.hostname, endpoint: p.endpoint, allowedIps: p.allowedIps, persistentKeepalive: p.persistentKeepalive, presharedKey: p.presharedKey });
    }
  }
  if (confirm.length > 0) out.push({ kind: "handshake-confirm", seconds: HANDSHAKE_CONFIRM_SECONDS, peers: confirm });
  return out;
}
