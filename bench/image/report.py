#!/usr/bin/env python3
"""bench/image/report.py FIGURES.tsv OUT.json BIG_MIB - table + JSON of run.sh's figures."""
import json
import sys


def num(v):
    for t in (int, float):
        try:
            return t(v)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(v, v)


def main():
    fig_path, out_path, big = sys.argv[1], sys.argv[2], sys.argv[3]
    data = {}
    for line in open(fig_path):
        key, _, value = line.rstrip("\n").partition("\t")
        node = data
        parts = key.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = num(value)

    disk = data.get("disk", {})
    sizes = [s for s in str(data["meta"]["sizes_mib"]).split()]
    targets = [t for t in ("oxistack", "glance") if isinstance(data.get(t), dict) and any(s in data[t] for s in sizes)]
    mib = lambda kb: kb / 1024.0

    print()
    cold = "cold cache" if data["meta"].get("cache_dropped") else "page cache NOT dropped"
    print(f"image data path, {data['meta']['filesystem']}, {data['meta']['nproc']} CPUs, reads from a {cold}")
    hdr = (f"{'size':>6} {'target':<9} {'write MB/s':>10} {'%disk':>6} {'+sync':>7} {'%disk':>6} "
           f"{'read MB/s':>10} {'%disk':>6} | {'RSS idle':>8} {'peak up':>8} {'peak down':>9} MiB")
    print(hdr)
    print("-" * len(hdr))
    summary = {}
    for s in sizes:
        d = disk.get(s, {})
        print(f"{s + 'M':>6} {'disk (dd)':<9} {d.get('write_mbps', 0):>10.1f} {'':>6} {'':>7} {'':>6} "
              f"{d.get('read_mbps', 0):>10.1f} {'':>6} |")
        for t in targets:
            r = data[t].get(s)
            if not r:
                continue
            up_pct = 100.0 * r["upload_mbps"] / d["write_mbps"]
            sync_pct = 100.0 * r["upload_synced_mbps"] / d["write_mbps"]
            # the download against the paired dd reads of the stored file
            # (same bytes, same minutes) when the run made them
            down_ref = r.get("stored_file_read_mbps") or d["read_mbps"]
            down_pct = 100.0 * r["download_mbps"] / down_ref
            r["upload_pct_of_disk"] = round(up_pct, 1)
            r["upload_synced_pct_of_disk"] = round(sync_pct, 1)
            r["download_pct_of_disk"] = round(down_pct, 1)
            print(f"{s + 'M':>6} {t:<9} {r['upload_mbps']:>10.1f} {up_pct:>5.0f}% {r['upload_synced_mbps']:>7.1f} "
                  f"{sync_pct:>5.0f}% {r['download_mbps']:>10.1f} {down_pct:>5.0f}% | "
                  f"{mib(r['rss_idle_kb']):>8.1f} {mib(r['rss_upload_peak_kb']):>8.1f} "
                  f"{mib(r['rss_download_peak_kb']):>9.1f}")
            if r.get("stored_file_read_mbps"):
                print(f"{'':>6} {'':<9} download rounds {r['download_rounds_mbps']} MB/s vs cold dd reads of "
                      f"the stored file {r['stored_file_read_rounds_mbps']} MB/s")
    print()
    for t in targets:
        r = data[t].get(big)
        if r:
            ok_up = r["upload_pct_of_disk"] >= 80
            ok_down = r["download_pct_of_disk"] >= 80
            print(f"{t} {big} MiB: upload {r['upload_pct_of_disk']:.0f}% of the disk's write "
                  f"({'meets' if ok_up else 'BELOW'} the 80% target), download {r['download_pct_of_disk']:.0f}% "
                  f"of its read ({'meets' if ok_down else 'BELOW'} the 80% target; median of paired rounds)")
            summary[t] = {"upload_meets_80pct": ok_up, "download_meets_80pct": ok_down}
        if len(sizes) > 1:
            a, b = data[t].get(sizes[0]), data[t].get(sizes[-1])
            if a and b:
                g_up = mib(b["rss_upload_peak_kb"] - a["rss_upload_peak_kb"])
                g_down = mib(b["rss_download_peak_kb"] - a["rss_download_peak_kb"])
                grow = max(g_up, g_down)
                ratio = (int(sizes[-1]) - int(sizes[0]))
                flat = grow < 0.05 * ratio  # under 5% of the extra image size
                print(f"{t} peak RSS {sizes[0]} MiB -> {sizes[-1]} MiB image: upload {g_up:+.1f} MiB, "
                      f"download {g_down:+.1f} MiB ({'flat' if flat else 'GROWS with image size'})")
                summary.setdefault(t, {})["rss_peak_growth_mib"] = {"upload": round(g_up, 1), "download": round(g_down, 1)}
                summary[t]["rss_flat"] = flat
    if "glance" in data and "skipped" in data["glance"]:
        print(f"glance: skipped - {data['glance']['skipped']}")
    cpu = data.get("cpu")
    if cpu:
        print(f"hashing ceiling on one CPU (md5 + sha512 in series, from memory): {cpu['md5_plus_sha512_mbps']:.0f} MB/s "
              f"(md5 {cpu['md5_mbps']:.0f}, sha512 {cpu['sha512_mbps']:.0f}); a streamed upload computes both")
        if cpu.get("md5_and_sha512_parallel_mbps"):
            par = cpu["md5_and_sha512_parallel_mbps"]
            print(f"hashing ceiling with md5 and sha512 on two CPUs at once: {par:.0f} MB/s; an upload that must "
                  f"produce both cannot pass it, whatever the disk")
            for t in targets:
                r = data[t].get(big)
                if r:
                    limit = min(par, disk.get(big, {}).get("write_mbps", par))
                    r["upload_pct_of_hash_or_disk_limit"] = round(100.0 * r["upload_mbps"] / limit, 1)
                    print(f"{t} {big} MiB: upload {r['upload_pct_of_hash_or_disk_limit']:.0f}% of min(disk write, "
                          f"parallel hashing) = {limit:.0f} MB/s")
    print("'+sync' = upload time including a sync(1) of the store's filesystem after the 204 "
          "(oxistack fsyncs before answering; the disk figure is dd conv=fsync)")
    data["summary"] = summary
    with open(out_path, "w") as f:
        json.dump(data, f, indent=2, sort_keys=True)
    print(f"written: {out_path}")


main()
