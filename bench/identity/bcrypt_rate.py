#!/usr/bin/env python3
"""Bare bcrypt-verify rate: the reference for token issue (password auth).

Usage: bcrypt_rate.py [--cost 12] [--procs 2] [--seconds 5]
Prints one JSON object: {"cost", "procs", "seconds", "verifies", "rate"}.
Uses pyca `bcrypt` (the same package keystone verifies passwords with).
Each process checks the same password against one hash until the deadline;
the rate is total verifies / wall time of the slowest process.
"""
import argparse
import json
import multiprocessing as mp
import time

import bcrypt


def worker(hashed, deadline_s, q):
    pw = b"bench-password"
    n = 0
    t0 = time.monotonic()
    end = t0 + deadline_s
    while time.monotonic() < end:
        if not bcrypt.checkpw(pw, hashed):
            raise SystemExit("bcrypt.checkpw returned False")
        n += 1
    q.put((n, time.monotonic() - t0))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cost", type=int, default=12)
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=5.0)
    a = ap.parse_args()
    hashed = bcrypt.hashpw(b"bench-password", bcrypt.gensalt(rounds=a.cost))
    q = mp.Queue()
    ps = [mp.Process(target=worker, args=(hashed, a.seconds, q)) for _ in range(a.procs)]
    for p in ps:
        p.start()
    res = [q.get(timeout=a.seconds + 120) for _ in ps]
    for p in ps:
        p.join(timeout=30)
    n = sum(r[0] for r in res)
    wall = max(r[1] for r in res)
    print(json.dumps({"cost": a.cost, "procs": a.procs, "seconds": round(wall, 3),
                      "verifies": n, "rate": round(n / wall, 3),
                      "bcrypt_version": getattr(bcrypt, "__version__", "?")}))


if __name__ == "__main__":
    main()
