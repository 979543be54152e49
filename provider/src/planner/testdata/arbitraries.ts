/**
 * fast-check generators of desired and live states for the planner's property tests. Desired states follow
 * the core's guarantees (disjoint AllowedIPs across peers, mesh /32 in every peer); live states follow the
 * kernel's (an exact CIDR belongs to at most one peer).
 */
import fc from "fast-check";
import type { LivePeer, LiveState, NodeDesiredState, PeerConfig } from "../types";

export const arbKey = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString("base64"));

/** A small shared pool so desired and live states talk about the same peers. */
export const arbUniverse = fc.record({
  keys: fc.uniqueArray(arbKey, { minLength: 8, maxLength: 8 }),
});

const CIDR_POOL = [
  ...Array.from({ length: 12 }, (_, i) => `10.99.0.${i + 2}/32`),
  "192.168.50.0/24",
  "192.168.51.0/24",
  "172.16.0.0/12",
  "10.200.0.0/16",
  "fd00:50::/64",
  "fd00:51::/64",
];

const arbEndpoint = fc.oneof(
  fc.constant(null),
  fc.tuple(fc.integer({ min: 1, max: 254 }), fc.integer({ min: 1, max: 65535 })).map(([h, p]) => `127.0.0.${h}:${p}`),
  fc.tuple(fc.integer({ min: 1, max: 0xffff }), fc.integer({ min: 1, max: 65535 })).map(([h, p]) => `[fd00::${h.toString(16)}]:${p}`),
);
const arbKeepalive = fc.oneof(fc.constant(null), fc.integer({ min: 1, max: 65535 }));

/** Partition distinct CIDRs from the pool among `n` owners. */
function arbPartition(n: number): fc.Arbitrary<string[][]> {
  return fc.array(fc.integer({ min: -1, max: n - 1 }), { minLength: CIDR_POOL.length, maxLength: CIDR_POOL.length }).map((owners) => {
    const out: string[][] = Array.from({ length: n }, () => []);
    owners.forEach((o, i) => {
      if (o >= 0) (out[o] as string[]).push(CIDR_POOL[i] as string);
    });
    return out;
  });
}

/** Desired endpoints may also be DNS names (the kernel only ever shows addresses). */
const arbDesiredEndpoint = fc.oneof(
  arbEndpoint,
  fc.tuple(fc.constantFrom("app1.example.net", "gw.example.org"), fc.integer({ min: 1, max: 65535 })).map(([h, p]) => `${h}:${p}`),
);

export function arbDesired(keys: string[]): fc.Arbitrary<NodeDesiredState> {
  return fc
    .record({
      self: fc.integer({ min: 0, max: keys.length - 1 }),
      peerIdx: fc.uniqueArray(fc.integer({ min: 0, max: keys.length - 1 }), { maxLength: 6 }),
      host: fc.integer({ min: 1, max: 254 }),
      prefix: fc.constantFrom(16, 24),
      listenPort: fc.integer({ min: 1, max: 65535 }),
      mtu: fc.oneof(fc.constant(null), fc.integer({ min: 1280, max: 1500 })),
      forwarding: fc.boolean(),
      routesMask: fc.array(fc.boolean(), { minLength: CIDR_POOL.length, maxLength: CIDR_POOL.length }),
      peerFields: fc.array(fc.record({ endpoint: arbDesiredEndpoint, keepalive: arbKeepalive, psk: fc.boolean() }), { minLength: 6, maxLength: 6 }),
      parts: arbPartition(6),
    })
    .map((r) => {
      const peerIdx = r.peerIdx.filter((i) => i !== r.self);
      const peers: PeerConfig[] = peerIdx.map((k, i) => {
        const f = r.peerFields[i] as { endpoint: string | null; keepalive: number | null; psk: boolean };
        const own = (r.parts[i] as string[]).filter((c) => !c.startsWith("10.99.0."));
        return {
          hostname: `peer${k}`,
          publicKey: keys[k] as string,
          endpoint: f.endpoint,
          allowedIps: [`10.99.1.${k + 1}/32`, ...own].sort(),
          persistentKeepalive: f.keepalive,
          presharedKey: f.psk,
        };
      });
      peers.sort((a, b) => (a.hostname < b.hostname ? -1 : 1));
      return {
        hostname: `node${r.self}`,
        interface: { name: "wg0", address: `10.99.0.${r.host}/${r.prefix}`, listenPort: r.listenPort, mtu: r.mtu, publicKey: keys[r.self] as string },
        peers,
        routes: CIDR_POOL.filter((c, i) => r.routesMask[i] && !c.startsWith("10.99.0.")),
        forwarding: r.forwarding,
      } satisfies NodeDesiredState;
    });
}

export function arbLive(keys: string[]): fc.Arbitrary<LiveState> {
  const arbIface = fc.record({
    self: fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: keys.length - 1 })),
    listenPort: fc.integer({ min: 0, max: 65535 }),
    addresses: fc.uniqueArray(fc.tuple(fc.integer({ min: 1, max: 254 }), fc.constantFrom(16, 24)).map(([h, p]) => `10.99.0.${h}/${p}`), { maxLength: 3 }),
    mtu: fc.integer({ min: 1280, max: 65535 }),
  });
  return fc
    .record({
      iface: fc.option(arbIface, { nil: null }),
      peerIdx: fc.uniqueArray(fc.integer({ min: 0, max: keys.length - 1 }), { maxLength: 7 }),
      peerFields: fc.array(
        fc.record({ endpoint: arbEndpoint, keepalive: arbKeepalive, psk: fc.boolean(), fp: fc.constantFrom("aaaa", "bbbb"), mesh: fc.boolean() }),
        { minLength: 7, maxLength: 7 },
      ),
      parts: arbPartition(7),
      routes: fc.subarray(CIDR_POOL),
      forwarding: fc.boolean(),
    })
    .map((r) => {
      if (r.iface === null) return { interface: null, peers: [], routes: [], forwarding: r.forwarding } satisfies LiveState;
      const peers: LivePeer[] = r.peerIdx.map((k, i) => {
        const f = r.peerFields[i] as { endpoint: string | null; keepalive: number | null; psk: boolean; fp: string; mesh: boolean };
        const p: LivePeer = {
          publicKey: keys[k] as string,
          presharedKey: f.psk,
          endpoint: f.endpoint,
          allowedIps: [...(f.mesh ? [`10.99.1.${k + 1}/32`] : []), ...(r.parts[i] as string[])].sort(),
          latestHandshake: 0,
          rxBytes: 0,
          txBytes: 0,
          persistentKeepalive: f.keepalive,
        };
        if (f.psk) p.presharedKeyFingerprint = f.fp;
        return p;
      });
      return {
        interface: {
          name: "wg0",
          publicKey: r.iface.self < 0 ? null : (keys[r.iface.self] as string),
          listenPort: r.iface.listenPort,
          addresses: r.iface.addresses,
          mtu: r.iface.mtu,
        },
        peers,
        routes: r.routes,
        forwarding: r.forwarding,
      } satisfies LiveState;
    });
}

/** The live state a host shows when it is exactly the desired state (what `wg-quick up` gives). */
export function desiredAsLive(d: NodeDesiredState, autoMtu = 1420): LiveState {
  return {
    interface: { name: d.interface.name, publicKey: d.interface.publicKey, listenPort: d.interface.listenPort, addresses: [d.interface.address], mtu: d.interface.mtu ?? autoMtu },
    peers: d.peers.map((p) => ({
      publicKey: p.publicKey,
      presharedKey: p.presharedKey,
      endpoint: p.endpoint,
      allowedIps: [...p.allowedIps],
      latestHandshake: 1700000000,
      rxBytes: 1234,
      txBytes: 5678,
      persistentKeepalive: p.persistentKeepalive,
    })),
    routes: [...d.routes],
    forwarding: d.forwarding,
  };
}
