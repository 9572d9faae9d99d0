#!/usr/bin/env python3
"""Summarise oha JSON output for bench/identity/run.sh.

  report.py --one OHA.json EXPECTED_STATUS   one line for the log
  report.py --dir RESDIR --out latest.json   the table + the results file

rps counts only responses with the expected status (200, or 201 for issue)
per second of wall time; ok% is that count over everything oha sent
(including connection errors). p50/p99 are oha's latency percentiles.
"""
import argparse
import datetime
import json
import os
import sys

WORKLOADS = [
    ("validate", "GET  /v3/auth/tokens (validate)"),
    ("issue", "POST /v3/auth/tokens (password)"),
    ("users", "GET  /v3/users"),
    ("catalog", "GET  /v3/auth/catalog"),
]


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def summarise(oha, expected):
    s = oha.get("summary", {})
    codes = {str(k): int(v) for k, v in (oha.get("statusCodeDistribution") or {}).items()}
    errors = {str(k): int(v) for k, v in (oha.get("errorDistribution") or {}).items()}
    ok = codes.get(str(expected), 0)
    sent = sum(codes.values()) + sum(errors.values())
    wall = float(s.get("total") or 0.0)
    pct = oha.get("latencyPercentiles") or {}
    return {
        "rps": ok / wall if wall > 0 else 0.0,
        "ok": ok,
        "sent": sent,
        "ok_pct": 100.0 * ok / sent if sent else 0.0,
        "wall_s": wall,
        "p50_ms": 1000.0 * pct["p50"] if pct.get("p50") is not None else None,
        "p99_ms": 1000.0 * pct["p99"] if pct.get("p99") is not None else None,
        "oha_rps": s.get("requestsPerSec"),
        "oha_success_rate": s.get("successRate"),
        "status_codes": codes,
        "errors": errors,
        "bytes_per_response": s.get("sizePerRequest"),
    }


def one_line(r):
    bad = "" if r["ok_pct"] >= 99.0 else f"  WARNING: only {r['ok_pct']:.1f}% expected responses {r['status_codes']} {r['errors']}"
    return (f"    {r['rps']:.1f} req/s ok, p50 {fmt_ms(r['p50_ms'])}, p99 {fmt_ms(r['p99_ms'])}, "
            f"{r['ok']}/{r['sent']} ok ({r['ok_pct']:.1f}%) in {r['wall_s']:.1f}s{bad}")


def fmt_ms(v):
    if v is None:
        return "-"
    if v >= 100:
        return f"{v:.0f}ms"
    if v >= 1:
        return f"{v:.1f}ms"
    return f"{v:.2f}ms"


def fmt_rps(v):
    if v is None:
        return "-"
    return f"{v:.0f}" if v >= 100 else f"{v:.1f}"


def mib(kb):
    return kb / 1024.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--one", nargs=2, metavar=("OHA_JSON", "STATUS"))
    ap.add_argument("--dir")
    ap.add_argument("--out")
    a = ap.parse_args()

    if a.one:
        oha = load(a.one[0])
        if oha is None:
            sys.exit(f"cannot read {a.one[0]}")
        print(one_line(summarise(oha, a.one[1])))
        return

    d = a.dir
    meta = load(os.path.join(d, "meta.json")) or {}
    targets = meta.get("targets", "keystone oxistack").split()
    workloads = meta.get("workloads", "validate issue users catalog").split()
    res = {"meta": meta, "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "workloads": {}, "rss": {}, "static": None, "bcrypt": load(os.path.join(d, "bcrypt.json")),
           "memcached": load(os.path.join(d, "memcached-stats.json"))}

    st = load(os.path.join(d, "static.json"))
    static_rps = None
    if st is not None:
        res["static"] = summarise(st, 200)
        static_rps = res["static"]["rps"]

    for w, _ in WORKLOADS:
        if w not in workloads:
            continue
        row = {}
        for t in ("keystone", "oxistack"):
            oha = load(os.path.join(d, f"{t}-{w}.json"))
            if oha is None:
                continue
            m = load(os.path.join(d, f"{t}-{w}.meta.json")) or {}
            r = summarise(oha, m.get("expected_status", 201 if w == "issue" else 200))
            r["body_bytes"] = m.get("body_bytes")
            row[t] = r
        if "keystone" in row and "oxistack" in row and row["keystone"]["rps"] > 0:
            row["ratio"] = row["oxistack"]["rps"] / row["keystone"]["rps"]
        if "oxistack" in row and static_rps:
            row["oxistack_pct_of_static"] = 100.0 * row["oxistack"]["rps"] / static_rps
        if w == "issue" and "oxistack" in row and res["bcrypt"] and res["bcrypt"].get("rate"):
            row["oxistack_pct_of_bcrypt"] = 100.0 * row["oxistack"]["rps"] / res["bcrypt"]["rate"]
        if w == "issue" and "keystone" in row and res["bcrypt"] and res["bcrypt"].get("rate"):
            row["keystone_pct_of_bcrypt"] = 100.0 * row["keystone"]["rps"] / res["bcrypt"]["rate"]
        res["workloads"][w] = row

    for name in ("keystone", "keystone-idle", "oxistack", "oxistack-idle"):
        r = load(os.path.join(d, f"rss-{name}.json"))
        if r is not None:
            res["rss"][name] = r

    # ---- table
    c = meta.get("concurrency", "?")
    print()
    print(f"identity bench: concurrency {c}, {meta.get('duration_s', '?')}s per run "
          f"(+{meta.get('warmup_s', '?')}s warmup), {meta.get('oha', 'oha')}, keystone {meta.get('keystone', '?')} "
          f"(uwsgi x{meta.get('ks_processes', '?')} + memcached), {meta.get('nproc', '?')} CPUs, "
          f"load at start {meta.get('loadavg_start', '?')}")
    hdr = (f"{'workload':<34} {'keystone rps':>12} {'p50':>8} {'p99':>8} | {'oxistack rps':>12} {'p50':>8} {'p99':>8}"
           f" | {'oxi/ks':>7} {'% static':>8}")
    print(hdr)
    print("-" * len(hdr))
    for w, label in WORKLOADS:
        row = res["workloads"].get(w)
        if row is None:
            continue
        k, o = row.get("keystone"), row.get("oxistack")
        cells = []
        for r in (k, o):
            if r is None:
                cells.append(f"{'-':>12} {'-':>8} {'-':>8}")
            else:
                cells.append(f"{fmt_rps(r['rps']):>12} {fmt_ms(r['p50_ms']):>8} {fmt_ms(r['p99_ms']):>8}")
        ratio = f"{row['ratio']:.1f}x" if "ratio" in row else "-"
        pst = "-"
        if "oxistack_pct_of_static" in row:
            v = row["oxistack_pct_of_static"]
            pst = f"{v:.1f}%" if v >= 1 else f"{v:.3f}%"
        print(f"{label:<34} {cells[0]} | {cells[1]} | {ratio:>7} {pst:>8}")
    if res["static"]:
        s = res["static"]
        print(f"{'static 200 (nginx, ceiling)':<34} {fmt_rps(s['rps']):>12} {fmt_ms(s['p50_ms']):>8} {fmt_ms(s['p99_ms']):>8}")
    warn = []
    for w, row in res["workloads"].items():
        for t in ("keystone", "oxistack"):
            r = row.get(t)
            if r is not None and r["ok_pct"] < 99.0:
                warn.append(f"WARNING {t}/{w}: only {r['ok_pct']:.1f}% expected responses "
                            f"(codes {r['status_codes']}, errors {r['errors']})")
    bc = res["bcrypt"]
    if bc:
        line = (f"bare bcrypt verify (cost {bc['cost']}, {bc['procs']} processes, {bc['seconds']}s): "
                f"{bc['rate']:.2f}/s")
        iss = res["workloads"].get("issue", {})
        if "oxistack_pct_of_bcrypt" in iss:
            line += f"; oxistack issue = {iss['oxistack_pct_of_bcrypt']:.0f}% of it (target >= 90%)"
        if "keystone_pct_of_bcrypt" in iss:
            line += f"; keystone issue = {iss['keystone_pct_of_bcrypt']:.0f}%"
        print(line)
    rss = res["rss"]
    for t in ("keystone", "oxistack"):
        if t in rss:
            r = rss[t]
            idle = rss.get(f"{t}-idle")
            extra = f", idle {mib(idle['rss_kb']):.1f} MiB" if idle else ""
            what = "uwsgi master+workers + memcached" if t == "keystone" else "oxistack process tree"
            print(f"RSS {t:<9} after load: {mib(r['rss_kb']):7.1f} MiB (PSS {mib(r['pss_kb']):.1f} MiB; "
                  f"{len(r['pids'])} processes: {what}){extra}")
    mc = res["memcached"]
    if mc:
        print(f"memcached (keystone's cache) after load: {mc.get('get_hits', '?')} get hits, "
              f"{mc.get('get_misses', '?')} misses, {mc.get('curr_items', '?')} items")
    if "keystone" in rss and "oxistack" in rss and rss["oxistack"]["rss_kb"] > 0:
        res["rss_ratio_keystone_over_oxistack"] = rss["keystone"]["rss_kb"] / rss["oxistack"]["rss_kb"]
        print(f"RSS ratio keystone/oxistack: {res['rss_ratio_keystone_over_oxistack']:.1f}x")
    for line in warn:
        print(line)

    if a.out:
        with open(a.out, "w") as f:
            json.dump(res, f, indent=2, sort_keys=True)
            f.write("\n")
        print(f"results: {a.out}")


if __name__ == "__main__":
    main()
