#!/usr/bin/env python3
"""bench/compute/boot.py - boot N servers through the compute API in batches
(multi-create), wait until every one is ACTIVE, then time the server list
that `openstack server list --long` makes (GET /servers/detail, all of them).

Prints one JSON object: servers, batch, boot_seconds, servers_per_second,
list_p50_ms, list_p99_ms, list_samples, errors.

Usage: boot.py --auth-url URL --password PW [--servers 1000] [--batch 50]
               [--samples 50] [--timeout 600]
"""
import argparse
import json
import statistics
import sys
import time

import requests


def login(auth_url, password):
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "admin", "domain": {"id": "default"}, "password": password}}},
        "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}
    r = requests.post(auth_url.rstrip("/") + "/auth/tokens", json=body, timeout=30)
    r.raise_for_status()
    token = r.json()["token"]

    def endpoint(kind):
        for s in token["catalog"]:
            if s["type"] == kind:
                return next(e["url"] for e in s["endpoints"] if e["interface"] == "public")
        raise SystemExit("no %s endpoint in the catalog" % kind)

    return r.headers["X-Subject-Token"], token["project"]["id"], endpoint("compute"), endpoint("image")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--auth-url", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--servers", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--samples", type=int, default=50)
    ap.add_argument("--timeout", type=int, default=600)
    a = ap.parse_args()

    token, project, compute, image = login(a.auth_url, a.password)
    s = requests.Session()
    s.headers.update({"X-Auth-Token": token, "OpenStack-API-Version": "compute 2.74"})

    def ok(r, *codes):
        if r.status_code not in codes:
            raise SystemExit("%s %s -> %s %s" % (r.request.method, r.url, r.status_code, r.text[:300]))
        return r

    ok(s.put("%s/os-quota-sets/%s" % (compute, project),
             json={"quota_set": {"instances": -1, "cores": -1, "ram": -1}}), 200)
    flavor = ok(s.post(compute + "/flavors", json={"flavor": {
        "name": "bench.tiny", "ram": 64, "vcpus": 1, "disk": 1}}), 200).json()["flavor"]["id"]
    img = ok(s.post(image + "/v2/images", json={
        "name": "bench-image", "disk_format": "raw", "container_format": "bare"}), 201).json()["id"]
    ok(s.put("%s/v2/images/%s/file" % (image, img), data=b"\0" * 65536,
             headers={"Content-Type": "application/octet-stream"}), 204)

    def all_servers():
        servers, marker = [], None
        while True:
            url = compute + "/servers/detail?limit=1000" + ("&marker=" + marker if marker else "")
            page = ok(s.get(url), 200).json()["servers"]
            servers += page
            if len(page) < 1000:
                return servers
            marker = page[-1]["id"]

    t0 = time.monotonic()
    left, n = a.servers, 0
    while left > 0:
        k = min(a.batch, left)
        ok(s.post(compute + "/servers", json={"server": {
            "name": "bench-%d" % n, "flavorRef": flavor, "imageRef": img, "networks": "none",
            "min_count": k, "max_count": k}}), 202)
        left -= k
        n += 1
    submitted = time.monotonic() - t0
    # Poll the cheap way (the ids of the servers still building, not the
    # detail of all of them) so that the polling itself does not eat the
    # CPU the cloud is booting with; every server was recorded (BUILD)
    # before its POST answered 202.
    while True:
        building = ok(s.get(compute + "/servers?status=BUILD&limit=1000"), 200).json()["servers"]
        if not building:
            break
        if time.monotonic() - t0 > a.timeout:
            raise SystemExit("%d of %d still BUILD after %d s" % (len(building), a.servers, a.timeout))
        time.sleep(0.2)
    boot = time.monotonic() - t0
    servers = all_servers()
    active = sum(1 for x in servers if x["status"] == "ACTIVE")
    errors = sum(1 for x in servers if x["status"] == "ERROR")
    if active + errors < a.servers:
        raise SystemExit("only %d ACTIVE and %d ERROR of %d" % (active, errors, a.servers))

    lat = []
    for _ in range(a.samples):
        t = time.monotonic()
        got = all_servers()
        lat.append((time.monotonic() - t) * 1000)
        assert len(got) >= a.servers
    lat.sort()
    p99 = lat[min(len(lat) - 1, int(round(0.99 * (len(lat) - 1))))]
    json.dump({
        "servers": a.servers, "batch": a.batch, "submit_seconds": round(submitted, 2),
        "boot_seconds": round(boot, 2), "servers_per_second": round(active / boot, 1),
        "errors": errors, "list_samples": len(lat),
        "list_p50_ms": round(statistics.median(lat), 1), "list_p99_ms": round(p99, 1),
    }, sys.stdout)
    print()


if __name__ == "__main__":
    main()
