#!/usr/bin/env python3
"""A user-space netem for the fault suite: holds every packet of an nftables queue for DELAY_MS and drops
LOSS_PERCENT of them at random. For kernels built without sch_netem (this machine's has no
CONFIG_NET_SCH_NETEM): the testbed's bridge sends its forwarded frames to the queue with an nftables rule
(`queue num N` in a bridge-family forward chain, test/fault/faults.ts), and this process gives each one its
verdict — drop, or accept after the delay. Uses fnfqueue (PyPI) for the nfnetlink queue protocol.

Usage: netem.py QUEUE DELAY_MS LOSS_PERCENT   (prints "ready" once bound; runs until killed)
"""
import heapq
import itertools
import random
import sys
import threading
import time

import fnfqueue


def main() -> None:
    queue, delay_ms, loss = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
    conn = fnfqueue.Connection()
    q = conn.bind(queue)
    q.set_mode(fnfqueue.MAX_PAYLOAD, fnfqueue.COPY_META)
    q.set_maxlen(20000)
    held = []  # (due, seq, packet)
    seq = itertools.count()
    cond = threading.Condition()

    def release() -> None:
        while True:
            with cond:
                while not held or held[0][0] > time.monotonic():
                    cond.wait(None if not held else max(0.0, held[0][0] - time.monotonic()))
                _, _, packet = heapq.heappop(held)
            packet.accept()

    threading.Thread(target=release, daemon=True).start()
    print("ready", flush=True)
    for packet in conn:
        if random.random() * 100 < loss:
            packet.drop()
            continue
        with cond:
            heapq.heappush(held, (time.monotonic() + delay_ms / 1000.0, next(seq), packet))
            cond.notify()


if __name__ == "__main__":
    main()
