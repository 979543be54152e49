import { test } from "node:test";
import assert from "node:assert/strict";
import { hostKeyFor } from "./demo-config";

test("hostKeyFor finds a host's key in known_hosts by address (port 22) or [address]:port", () => {
  const kh = [
    "198.19.8.11 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAAA",
    "[198.19.8.1]:2201,198.19.8.99 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBBB",
    "",
  ].join("\n");
  assert.equal(hostKeyFor(kh, "198.19.8.11", 22), "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAAA");
  assert.equal(hostKeyFor(kh, "198.19.8.1", 2201), "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBBB");
  assert.equal(hostKeyFor(kh, "198.19.8.1", 22), undefined);
  assert.equal(hostKeyFor(kh, "198.19.8.12", 22), undefined);
});
