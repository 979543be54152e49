/**
 * The UDP socket as the daemon uses it: node:dgram's Socket by default; anything with the same shape may
 * stand in (the 1,000-node simulation in bench/sim runs the real exchange and DHT code over an in-memory
 * network). bittorrent-dht/k-rpc take such a socket through their `socket` option.
 */
import * as dgram from "node:dgram";

export interface RemoteInfo {
  address: string;
  port: number;
}

/** The part of dgram.Socket the exchange uses. */
export interface DatagramSocket {
  bind(port: number, address: string, callback: () => void): void;
  on(event: "message", listener: (msg: Buffer, rinfo: RemoteInfo) => void): unknown;
  on(event: "error", listener: (err: Error) => void): unknown;
  once(event: "error", listener: (err: Error) => void): unknown;
  off(event: "error", listener: (err: Error) => void): unknown;
  send(msg: Buffer, port: number, address: string, callback: (err: Error | null) => void): void;
  address(): RemoteInfo;
  close(callback?: () => void): void;
}

/** Makes the exchange socket: "udp6" is dual stack (IPv4-mapped addresses accepted). */
export type SocketFactory = (type: "udp4" | "udp6") => DatagramSocket;

export const createUdpSocket: SocketFactory = (type) => dgram.createSocket(type === "udp6" ? { type, ipv6Only: false } : { type });
