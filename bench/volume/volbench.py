#!/usr/bin/env python3
"""bench/volume/volbench.py - block storage against the disk it writes to
(issue 8, Performance), against a running `oxistack up`. Run by
bench/volume/run.sh, which starts the cloud and removes its run directory;
this script deletes the volumes and images it creates, even when it fails.

Phases (--phases, default all):
  image   a --size-mib raw image and a qcow2 image of the same bytes (made
          with qemu-img from /dev/urandom data, in --work, which must be on
          the disk the cloud's data directory is on), uploaded to the image
          service; then, --rounds rounds interleaved, each from a cold page
          cache (drop_caches before every step):
            cp         `cp src dst` + `sync dst`             (the raw bytes)
            convert    `qemu-img convert -f raw -O raw` + sync
            vol-raw    POST /volumes {imageRef: raw image}, until available
            qconvert   `qemu-img convert -f qcow2 -O raw` + sync
            vol-qcow2  POST /volumes {imageRef: qcow2 image}, until available
                       (a volume of the qcow2 file's size rounded up to GiB:
                       2 GiB for 1 GiB of random data, as Cinder demands)
            fetch+qconvert  the volume agent's steps by hand: curl of the
                       qcow2 image's file into a scratch file, then
                       `qemu-img convert` from it + sync
            clone      POST /volumes {source_volid: the vol-raw volume}
          MB/s = the image's virtual size / seconds; each volume checked
          byte for byte against the source (cmp) once.
  empty   --empty-volumes blank 1 GiB volumes at each concurrency of
          --concurrency, from the first POST until the last is available;
          volumes/s; then deleted (and the time until all are gone).

Prints one JSON object on stdout; progress on stderr.
"""
import argparse
import concurrent.futures as cf
import json
import os
import statistics
import subprocess
import sys
import threading
import time

import requests


def log(*a):
    print("[volbench]", *a, file=sys.stderr, flush=True)


def pct(values, p):
    v = sorted(values)
    k = (len(v) - 1) * p / 100.0
    lo, hi = int(k), min(int(k) + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


class Api:
    def __init__(self, auth_url, password):
        body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": "admin", "domain": {"id": "default"}, "password": password}}},
            "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}
        r = requests.post(auth_url.rstrip("/") + "/auth/tokens", json=body, timeout=60)
        r.raise_for_status()
        tok = r.json()["token"]
        self.token = r.headers["X-Subject-Token"]
        self.project = tok["project"]["id"]

        def endpoint(kind):
            return next(e["url"] for s in tok["catalog"] if s["type"] == kind
                        for e in s["endpoints"] if e["interface"] == "public")
        self.volume = endpoint("volumev3").replace("%(project_id)s", self.project).replace(
            "$(project_id)s", self.project).rstrip("/")
        self.image = endpoint("image").rstrip("/")
        self.local = threading.local()

    def session(self):
        s = getattr(self.local, "s", None)
        if s is None:
            s = requests.Session()
            s.headers.update({"X-Auth-Token": self.token})
            self.local.s = s
        return s

    def call(self, method, url, body=None, expect=(200,), **kw):
        r = self.session().request(method, url, json=body, timeout=600, **kw)
        if r.status_code not in expect:
            raise RuntimeError("%s %s -> %s %s" % (method, url, r.status_code, r.text[:300]))
        return r.json() if r.content else None


def drop_caches():
    subprocess.run(["sync"], check=True)
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


def timed(cmd):
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - t0


class Volumes:
    def __init__(self, api):
        self.api, self.ids, self.lock = api, [], threading.Lock()

    def create(self, body):
        v = self.api.call("POST", self.api.volume + "/volumes", {"volume": body}, expect=(202,))["volume"]
        with self.lock:
            self.ids.append(v["id"])
        return v["id"]

    def wait(self, vid, want="available", timeout=900, period=0.02):
        deadline = time.time() + timeout
        while time.time() < deadline:
            r = self.api.session().get(self.api.volume + "/volumes/" + vid, timeout=60)
            if want == "deleted" and r.status_code == 404:
                return
            r.raise_for_status()
            v = r.json()["volume"]
            if v["status"] == want:
                return v
            if v["status"].startswith("error"):
                raise RuntimeError("volume %s: %s" % (vid, v["status"]))
            time.sleep(period)
        raise RuntimeError("volume %s not %s after %ss" % (vid, want, timeout))

    def delete(self, vid):
        self.api.call("DELETE", self.api.volume + "/volumes/" + vid, expect=(202, 404))
        with self.lock:
            if vid in self.ids:
                self.ids.remove(vid)

    def cleanup(self):
        for vid in list(self.ids):
            try:
                self.delete(vid)
            except Exception as e:  # noqa: BLE001 - reported, cleanup goes on
                log("cleanup: volume", vid, e)


def upload(api, images, path, disk_format):
    img = api.call("POST", api.image + "/v2/images", {"name": "bench-" + disk_format, "disk_format": disk_format,
                                                      "container_format": "bare"}, expect=(201,))
    images.append(img["id"])
    with open(path, "rb") as f:
        api.call("PUT", api.image + "/v2/images/%s/file" % img["id"], expect=(204,), data=f,
                 headers={"Content-Type": "application/octet-stream"})
    return img["id"]


def phase_image(api, vols, images, a, out):
    size = a.size_mib * 1024 * 1024
    gib = -(-size // (1 << 30))
    raw, qcow2, dst = (os.path.join(a.work, n) for n in ("src.raw", "src.qcow2", "dst"))
    log("image: making a %d MiB raw image from /dev/urandom and its qcow2" % a.size_mib)
    subprocess.run(["dd", "if=/dev/urandom", "of=" + raw, "bs=4M", "count=%d" % (a.size_mib // 4),
                    "iflag=fullblock", "status=none"], check=True)
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, qcow2], check=True)
    # Cinder wants the volume to hold the image file too: a qcow2 of
    # incompressible data is its virtual size plus its metadata
    qcow2_gib = -(-os.stat(qcow2).st_size // (1 << 30))
    raw_id = upload(api, images, raw, "raw")
    qcow2_id = upload(api, images, qcow2, "qcow2")
    vol_path = os.path.join(a.data_dir, "block-storage", "volumes", "volume-%s")
    same_fs = os.stat(a.work).st_dev == os.stat(os.path.join(a.data_dir, "block-storage", "volumes")).st_dev
    rows = {k: [] for k in ("cp", "convert", "vol-raw", "qconvert", "vol-qcow2", "fetch+qconvert", "clone")}
    checked = False
    for r in range(a.rounds):
        def base(name, cmd):
            drop_caches()
            t = timed(cmd) + timed(["sync", dst])
            os.unlink(dst)
            rows[name].append(t)

        def vol(name, body, gb=gib):
            drop_caches()
            t0 = time.perf_counter()
            vid = vols.create(dict(body, size=gb, name="bench-" + name))
            vols.wait(vid)
            rows[name].append(time.perf_counter() - t0)
            return vid

        base("cp", ["cp", raw, dst])
        base("convert", ["qemu-img", "convert", "-f", "raw", "-O", "raw", raw, dst])
        v_raw = vol("vol-raw", {"imageRef": raw_id})
        base("qconvert", ["qemu-img", "convert", "-f", "qcow2", "-O", "raw", qcow2, dst])
        v_q = vol("vol-qcow2", {"imageRef": qcow2_id}, gb=qcow2_gib)
        # what the volume agent does, by hand: the image fetched whole into
        # a scratch file, then converted from there
        scratch = dst + ".image"
        base("fetch+qconvert", ["sh", "-c", 'curl -sf -H "X-Auth-Token: $1" -o "$2" "$3" && '
                                'qemu-img convert -f qcow2 -O raw "$2" "$4" && rm -f "$2"', "sh", api.token,
                                scratch, api.image + "/v2/images/%s/file" % qcow2_id, dst])
        v_c = vol("clone", {"source_volid": v_raw})
        if not checked:
            for vid in (v_raw, v_q, v_c):
                p = vol_path % vid
                if subprocess.run(["cmp", "-n", str(size), raw, p], capture_output=True).returncode != 0:
                    raise RuntimeError("volume %s does not hold the image's bytes" % vid)
            checked = True
        for vid in (v_c, v_q, v_raw):
            vols.delete(vid)
        for vid in (v_c, v_q, v_raw):
            vols.wait(vid, "deleted")
        log("image: round %d: " % r + ", ".join("%s %.0f MB/s" % (k, size / v[-1] / 1e6) for k, v in rows.items()))
    res = {"size_mib": a.size_mib, "rounds": a.rounds, "same_filesystem": same_fs, "bytes_checked": checked}
    for k, v in rows.items():
        res[k] = {"seconds": [round(x, 2) for x in v], "median_mbps": round(size / statistics.median(v) / 1e6, 1)}
    for k, ref in (("vol-raw", "convert"), ("vol-qcow2", "qconvert"), ("fetch+qconvert", "qconvert"), ("clone", "cp")):
        res[k]["pct_of_" + ref] = round(100 * res[k]["median_mbps"] / res[ref]["median_mbps"], 1)
    res["vol-raw"]["pct_of_cp"] = round(100 * res["vol-raw"]["median_mbps"] / res["cp"]["median_mbps"], 1)
    out["image"] = res
    for p in (raw, qcow2):
        os.unlink(p)


def phase_empty(api, vols, a, out):
    res = {"volumes": a.empty_volumes, "size_gb": 1, "runs": []}
    for c in a.concurrency:
        ids, lock = [], threading.Lock()

        def one(i):
            vid = vols.create({"size": 1, "name": "empty-%d-%d" % (c, i)})
            vols.wait(vid, period=0.01)
            with lock:
                ids.append(vid)

        with cf.ThreadPoolExecutor(c) as ex:
            list(ex.map(lambda _: api.session(), range(c)))
            t0 = time.perf_counter()
            list(ex.map(one, range(a.empty_volumes)))
            wall = time.perf_counter() - t0
        alloc = sum(os.stat(os.path.join(a.data_dir, "block-storage", "volumes", "volume-" + v)).st_blocks
                    for v in ids) * 512
        t0 = time.perf_counter()
        with cf.ThreadPoolExecutor(c) as ex:
            list(ex.map(vols.delete, ids))
            list(ex.map(lambda v: vols.wait(v, "deleted", period=0.01), ids))
        dwall = time.perf_counter() - t0
        run = {"concurrency": c, "seconds": round(wall, 3), "volumes_per_s": round(len(ids) / wall, 1),
               "allocated_bytes": alloc, "delete_seconds": round(dwall, 3),
               "deletes_per_s": round(len(ids) / dwall, 1)}
        log("empty: c=%d: %d volumes available in %.2fs = %.1f/s (%d bytes allocated); deleted in %.2fs"
            % (c, len(ids), wall, len(ids) / wall, alloc, dwall))
        res["runs"].append(run)
        time.sleep(1)
    out["empty"] = res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--auth-url", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--data-dir", required=True, help="the cloud's data directory")
    ap.add_argument("--work", required=True, help="scratch directory on the same disk")
    ap.add_argument("--phases", default="image,empty")
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--empty-volumes", type=int, default=100)
    ap.add_argument("--concurrency", default="1,8")
    a = ap.parse_args()
    a.concurrency = [int(c) for c in a.concurrency.split(",")]
    if a.size_mib % 4:
        raise SystemExit("--size-mib must be a multiple of 4")

    api = Api(a.auth_url, a.password)
    api.call("PUT", api.volume + "/os-quota-sets/" + api.project,
             {"quota_set": {"volumes": -1, "gigabytes": -1, "snapshots": -1}})
    vols, images, out, failed = Volumes(api), [], {}, None
    try:
        for ph in a.phases.split(","):
            t = time.perf_counter()
            if ph == "image":
                phase_image(api, vols, images, a, out)
            elif ph == "empty":
                phase_empty(api, vols, a, out)
            else:
                raise SystemExit("unknown phase " + ph)
            log("phase %s took %.1fs" % (ph, time.perf_counter() - t))
    except Exception as e:  # noqa: BLE001 - reported in the JSON, cleanup still runs
        failed = repr(e)
        log("FAILED:", failed)
    finally:
        vols.cleanup()
        for i in images:
            try:
                api.call("DELETE", api.image + "/v2/images/" + i, expect=(204, 404))
            except Exception as e:  # noqa: BLE001
                log("cleanup: image", i, e)
    if failed:
        out["error"] = failed
    print(json.dumps(out))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
