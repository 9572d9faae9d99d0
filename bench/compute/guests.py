#!/usr/bin/env python3
"""bench/compute/guests.py - real guests (qemu driver): boot N servers of the
test image at once through the compute API and time, for each one,

  to_exec     POST /servers -> the QEMU process exists (its start time read
              from /proc/<pid>/stat, so polling does not blur it): the
              control plane (API, scheduler, placement, bus, agent) plus the
              disk overlay and config drive the agent prepares
  to_active   POST /servers -> status ACTIVE
  exec_to_active  QEMU's own start (to QMP answering) plus the agent's
              report of the running guest
  to_marker   POST /servers -> "oxistack-test-guest: ready" on the console
              (the guest booted to userspace and read its config drive)

and each QEMU's resident memory once the guest is ready, split into the
guest's RAM it touched (the anonymous mapping of the flavor's size, from
/proc/<pid>/smaps) and QEMU's own overhead (the rest: code, TCG's
translation buffer, device state). Servers are deleted afterwards.
Times are on CLOCK_BOOTTIME, the clock of /proc/<pid>/stat's start time.

Prints one JSON object per count: count, per-metric p50/max (ms), rss.

Usage: guests.py --auth-url URL --password PW [--counts 1,10]
                 [--image oxistack-test] [--flavor m1.tiny] [--timeout 600]
"""
import argparse
import glob
import json
import os
import statistics
import sys
import threading
import time

import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from boot import login  # noqa: E402

MARKER = "oxistack-test-guest: ready"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def now():
    return time.clock_gettime(time.CLOCK_BOOTTIME)


def qemu_processes():
    """{instance uuid: (pid, start seconds since boot)} of the running QEMUs."""
    found = {}
    for path in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            with open(path, "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue
        if not args or b"qemu-system" not in args[0] or b"-uuid" not in args:
            continue
        pid = path.split("/")[2]
        try:
            with open("/proc/%s/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # field 22 of stat is the start time; [0] here is field 3
        start = int(fields[19]) / CLK_TCK
        found[args[args.index(b"-uuid") + 1].decode()] = (int(pid), start)
    return found


def rss_kib(pid, ram_mib):
    """(total resident KiB, resident KiB of the guest RAM mapping)."""
    total = guest = 0
    size = None
    try:
        with open("/proc/%d/smaps" % pid) as f:
            for line in f:
                if line.startswith("Size:"):
                    size = int(line.split()[1])
                elif line.startswith("Rss:"):
                    rss = int(line.split()[1])
                    total += rss
                    if size == ram_mib * 1024:
                        guest += rss
    except OSError:
        pass
    return total, guest


def pct(values, q):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(q * (len(v) - 1))))]


def run(s, compute, image_id, flavor, count, timeout):
    posted, ids, errors = {}, [], []
    lock = threading.Lock()

    def post(i):
        t = now()
        r = s.post(compute + "/servers", json={"server": {
            "name": "bench-guest-%d-%d" % (count, i), "flavorRef": flavor["id"],
            "imageRef": image_id, "networks": "none"}})
        if r.status_code != 202:
            with lock:
                errors.append("POST -> %s %s" % (r.status_code, r.text[:200]))
            return
        sid = r.json()["server"]["id"]
        with lock:
            posted[sid] = t
            ids.append(sid)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise SystemExit("; ".join(errors))

    execs, active, marker, rss = {}, {}, {}, {}
    deadline = now() + timeout
    while len(marker) < count:
        if now() > deadline:
            raise SystemExit("after %d s: %d ACTIVE, %d ready of %d" % (timeout, len(active), len(marker), count))
        t_poll = now()
        running = qemu_processes()
        for sid, (pid, start) in running.items():
            # -daemonize: the process that was exec'd forks and exits; keep
            # the earliest start seen and the pid that runs on
            if sid in posted:
                execs[sid] = (pid, min(start, execs.get(sid, (0, start))[1]))
        for sid in ids:
            if sid in active:
                continue
            r = s.get("%s/servers/%s" % (compute, sid))
            st = r.json()["server"]["status"]
            if st == "ACTIVE":
                active[sid] = t_poll
            elif st == "ERROR":
                raise SystemExit("server %s ERROR: %s" % (sid, r.json()["server"].get("fault")))
        for sid in list(active):
            if sid in marker:
                continue
            r = s.post("%s/servers/%s/action" % (compute, sid), json={"os-getConsoleOutput": {"length": 20}})
            if r.status_code == 200 and MARKER in r.json().get("output", ""):
                marker[sid] = now()
                pid = qemu_processes().get(sid, (None,))[0]
                if pid:
                    rss[sid] = rss_kib(pid, flavor["ram"])
        time.sleep(0.05)

    missing = [sid for sid in ids if sid not in execs]
    if missing:
        raise SystemExit("no QEMU process seen for %s" % missing)
    m = {
        "to_exec": [(execs[i][1] - posted[i]) * 1000 for i in ids],
        "to_active": [(active[i] - posted[i]) * 1000 for i in ids],
        "exec_to_active": [(active[i] - execs[i][1]) * 1000 for i in ids],
        "to_marker": [(marker[i] - posted[i]) * 1000 for i in ids],
    }
    out = {"count": count, "flavor_ram_mib": flavor["ram"]}
    for k, v in m.items():
        out[k + "_p50_ms"] = round(statistics.median(v))
        out[k + "_max_ms"] = round(max(v))
    total = [t for t, _ in rss.values()]
    overhead = [t - g for t, g in rss.values()]
    out["qemu_rss_mib_p50"] = round(statistics.median(total) / 1024, 1)
    out["qemu_rss_mib_max"] = round(max(total) / 1024, 1)
    out["guest_ram_touched_mib_p50"] = round(statistics.median(g for _, g in rss.values()) / 1024, 1)
    out["qemu_overhead_mib_p50"] = round(statistics.median(overhead) / 1024, 1)
    out["qemu_overhead_mib_max"] = round(max(overhead) / 1024, 1)

    for sid in ids:
        s.delete("%s/servers/%s" % (compute, sid))
    while True:
        left = [sid for sid in ids if s.get("%s/servers/%s" % (compute, sid)).status_code != 404]
        if not left:
            break
        if now() > deadline + 120:
            raise SystemExit("servers not deleted: %s" % left)
        time.sleep(0.2)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--auth-url", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--counts", default="1,10")
    ap.add_argument("--image", default="oxistack-test")
    ap.add_argument("--flavor", default="m1.tiny")
    ap.add_argument("--timeout", type=int, default=600)
    a = ap.parse_args()

    token, project, compute, image = login(a.auth_url, a.password)
    s = requests.Session()
    s.headers.update({"X-Auth-Token": token, "OpenStack-API-Version": "compute 2.74"})
    # `oxistack up --with-test-image` uploads the image after it answers
    for _ in range(600):
        imgs = s.get(image + "/v2/images", params={"name": a.image}).json()["images"]
        if imgs and imgs[0]["status"] == "active":
            break
        time.sleep(0.5)
    else:
        raise SystemExit("image %s is not active after 300 s" % a.image)
    for _ in range(600):  # the agent reports its host to placement after it starts
        hyps = s.get(compute + "/os-hypervisors/detail").json().get("hypervisors", [])
        if any(h.get("state") == "up" and h.get("memory_mb", 0) > 0 for h in hyps):
            break
        time.sleep(0.5)
    else:
        raise SystemExit("no compute host up after 300 s")
    flavors = s.get(compute + "/flavors/detail").json()["flavors"]
    flavor = next((f for f in flavors if f["name"] == a.flavor), None)
    if flavor is None:
        raise SystemExit("no flavor " + a.flavor)
    s.put("%s/os-quota-sets/%s" % (compute, project),
          json={"quota_set": {"instances": -1, "cores": -1, "ram": -1}}).raise_for_status()
    for count in (int(c) for c in a.counts.split(",")):
        json.dump(run(s, compute, imgs[0]["id"], flavor, count, a.timeout), sys.stdout)
        print(flush=True)


if __name__ == "__main__":
    main()
