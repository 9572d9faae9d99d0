#!/usr/bin/env python3
"""bench/network/netbench.py - the network service and its agent under load
(issue 6, Performance), against a running `oxistack up` with its network
agent on this host. Run by bench/network/run.sh, which starts the cloud and
cleans up; this script deletes what it creates through the API and removes
the namespaces it made, even when a phase fails.

Phases (--phases, default all):
  rate       1,000 ports on one network through POST /v2.0/ports, at each
             concurrency of --concurrency (one keep-alive session per
             worker, as openstacksdk or Terraform would), then deleted at
             the highest concurrency; ports/s, latency p50/p95, and a check
             that no fixed IP was given twice.
  ready      --ready-ports ports created one after the other with
             binding:host_id = this host; per port, the time from the POST
             until (1) its tap is on the network's bridge, (2) its MAC is in
             the network's dnsmasq hosts file, (3) the API shows it ACTIVE
             (the agent reports ACTIVE only once its firewall is applied).
  sg         --sg-ports bound ports in one security group; then
             --sg-rounds rule creates (and deletes): the time from the API's
             answer until the rule is in every port's ingress chain in the
             kernel (iptables-save, polled) - or gone from all of them.
  throughput iperf3 (TCP, one stream) between two network namespaces:
             over a plain veth pair (the physical limit), through our data
             plane on one network (veths adopted by the agent as the ports'
             taps: the bridge, br_netfilter, the security-group chains and
             conntrack), across a router (its namespace, forwarding, its
             nftables NAT table), and on the same bridge between two ports
             with port security off (no security-group chains: what the
             firewall costs), --rounds rounds interleaved.

Prints one JSON object on stdout; progress on stderr.
"""
import argparse
import concurrent.futures as cf
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time

import requests

NS_PREFIX = "oxbench-"  # every namespace this script makes; run.sh removes leftovers


def log(*a):
    print("[netbench]", *a, file=sys.stderr, flush=True)


def pct(values, p):
    v = sorted(values)
    if not v:
        return None
    k = (len(v) - 1) * p / 100.0
    lo, hi = int(k), min(int(k) + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def ms(x):
    return None if x is None else round(x * 1000.0, 1)


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
        net = next(e["url"] for s in tok["catalog"] if s["type"] == "network"
                   for e in s["endpoints"] if e["interface"] == "public")
        self.base = net.rstrip("/") + "/v2.0"
        self.local = threading.local()

    def session(self):
        s = getattr(self.local, "s", None)
        if s is None:
            s = requests.Session()
            s.headers.update({"X-Auth-Token": self.token})
            self.local.s = s
        return s

    def call(self, method, path, body=None, expect=(200,)):
        r = self.session().request(method, self.base + path, json=body, timeout=120)
        if r.status_code not in expect:
            raise RuntimeError("%s %s -> %s %s" % (method, path, r.status_code, r.text[:300]))
        return r.json() if r.content else None


def sh(*args, check=True, ns=None):
    cmd = (["ip", "netns", "exec", ns] if ns else []) + list(args)
    p = subprocess.run(cmd, capture_output=True, text=True)
    if check and p.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(cmd), p.stderr.strip()))
    return p.stdout


# ------------------------------------------------------------------ cleanup

class Created:
    """What this run made, deleted in reverse order at the end."""

    def __init__(self, api, networks_file=None):
        self.api = api
        self.networks_file = networks_file
        self.ports, self.networks, self.sgs, self.routers = [], [], [], []
        self.namespaces = []
        self.lock = threading.Lock()

    def add_port(self, pid):
        with self.lock:
            self.ports.append(pid)

    def delete_ports(self, ids, workers=8):
        def one(pid):
            try:
                self.api.call("DELETE", "/ports/" + pid, expect=(204, 404))
            except Exception as e:  # noqa: BLE001 - reported, cleanup goes on
                log("cleanup: port", pid, e)
        with cf.ThreadPoolExecutor(workers) as ex:
            list(ex.map(one, ids))
        with self.lock:
            gone = set(ids)
            self.ports = [p for p in self.ports if p not in gone]

    def cleanup(self):
        for ns in self.namespaces:
            subprocess.run(["ip", "netns", "delete", ns], capture_output=True)
        self.namespaces = []
        for r in self.routers:
            try:
                ports = self.api.call("GET", "/ports?device_id=" + r)["ports"]
                for p in ports:
                    if p["device_owner"] == "network:router_interface":
                        self.api.call("PUT", "/routers/%s/remove_router_interface" % r,
                                      {"port_id": p["id"]}, expect=(200, 404))
                self.api.call("DELETE", "/routers/" + r, expect=(204, 404))
            except Exception as e:  # noqa: BLE001
                log("cleanup: router", r, e)
        self.routers = []
        self.delete_ports(list(self.ports))
        for n in self.networks:
            try:
                self.api.call("DELETE", "/networks/" + n, expect=(204, 404))
            except Exception as e:  # noqa: BLE001
                log("cleanup: network", n, e)
        for sg in self.sgs:
            try:
                self.api.call("DELETE", "/security-groups/" + sg, expect=(204, 404))
            except Exception as e:  # noqa: BLE001
                log("cleanup: security group", sg, e)
        # The agent removes bridges and DHCP namespaces on its next pass.
        deadline = time.time() + 60
        left = self.networks
        while time.time() < deadline:
            left = [n for n in self.networks
                    if os.path.exists("/sys/class/net/brq" + n[:11])
                    or os.path.exists("/run/netns/qdhcp-" + n)]
            if not left:
                break
            time.sleep(0.2)
        if left:
            log("cleanup: the agent left the data plane of networks", left)
        return left


def make_network(api, created, name, cidr, gateway=True):
    net = api.call("POST", "/networks", {"network": {"name": name}}, expect=(201,))["network"]
    created.networks.append(net["id"])
    if created.networks_file:
        with open(created.networks_file, "a") as f:
            f.write(net["id"] + "\n")
    body = {"network_id": net["id"], "ip_version": 4, "cidr": cidr, "name": name, "enable_dhcp": True}
    if not gateway:
        body["gateway_ip"] = None
    sub = api.call("POST", "/subnets", {"subnet": body}, expect=(201,))["subnet"]
    return net, sub


def dnsmasq_hostsfile(network_id, timeout=60):
    """The hosts file of the network's dnsmasq, once it runs."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            if not argv or not argv[0].endswith(b"dnsmasq"):
                continue
            for a in argv:
                if a.startswith(b"--dhcp-hostsfile=") and network_id.encode() in a:
                    return a.split(b"=", 1)[1].decode()
        time.sleep(0.1)
    raise RuntimeError("no dnsmasq for network %s after %ss" % (network_id, timeout))


def tap_master(port_id):
    try:
        return os.path.basename(os.readlink("/sys/class/net/tap%s/master" % port_id[:11]))
    except OSError:
        return None


def wait_active(api, ids, timeout=120):
    deadline = time.time() + timeout
    want = set(ids)
    while time.time() < deadline:
        ports = api.call("GET", "/ports?fields=id&fields=status")["ports"]
        active = {p["id"] for p in ports if p["status"] == "ACTIVE"}
        if want <= active:
            return
        time.sleep(0.05)
    raise RuntimeError("%d ports not ACTIVE after %ss" % (len(want - active), timeout))


# ------------------------------------------------------------------ phases

def phase_rate(api, created, a, out):
    net, sub = make_network(api, created, "bench-rate", "10.240.0.0/20")
    res = {"ports": a.ports, "network_cidr": sub["cidr"], "runs": []}
    for c in a.concurrency:
        time.sleep(2)  # let the agent's passes for the previous step finish
        lat, ips, errors = [], [], []
        ids = []

        def one(i):
            t0 = time.perf_counter()
            r = api.session().post(api.base + "/ports", json={"port": {
                "network_id": net["id"], "name": "rate-%d-%d" % (c, i)}}, timeout=120)
            dt = time.perf_counter() - t0
            if r.status_code != 201:
                errors.append("%s %s" % (r.status_code, r.text[:200]))
                return
            p = r.json()["port"]
            created.add_port(p["id"])
            ids.append(p["id"])
            ips.extend(f["ip_address"] for f in p["fixed_ips"])
            lat.append(dt)

        # sessions (and their connections) made before the clock starts
        with cf.ThreadPoolExecutor(c) as ex:
            list(ex.map(lambda _: api.session(), range(c)))
            t0 = time.perf_counter()
            list(ex.map(one, range(a.ports)))
            wall = time.perf_counter() - t0
        run = {"concurrency": c, "created": len(ids), "errors": len(errors), "seconds": round(wall, 3),
               "ports_per_s": round(len(ids) / wall, 1), "p50_ms": ms(pct(lat, 50)),
               "p95_ms": ms(pct(lat, 95)), "p99_ms": ms(pct(lat, 99)),
               "duplicate_ips": len(ips) - len(set(ips))}
        if errors:
            run["first_error"] = errors[0]
        log("rate: c=%d: %d ports in %.2fs = %.1f ports/s (p50 %s ms, p95 %s ms), %d errors, %d duplicate IPs"
            % (c, len(ids), wall, len(ids) / wall, run["p50_ms"], run["p95_ms"], len(errors),
               run["duplicate_ips"]))
        time.sleep(2)
        t0 = time.perf_counter()
        created.delete_ports(ids, workers=max(a.concurrency))
        dwall = time.perf_counter() - t0
        run["delete_seconds"] = round(dwall, 3)
        run["deletes_per_s"] = round(len(ids) / dwall, 1)
        log("rate: deleted %d ports at c=%d in %.2fs = %.1f/s" % (len(ids), max(a.concurrency), dwall,
                                                                  len(ids) / dwall))
        res["runs"].append(run)
    out["rate"] = res


def ready_network(api, created, state):
    if "ready_net" not in state:
        net, sub = make_network(api, created, "bench-ready", "10.241.0.0/22")
        state["ready_net"], state["ready_sub"] = net, sub
        state["hostsfile"] = dnsmasq_hostsfile(net["id"])
        log("ready: dnsmasq of %s reads %s" % (net["id"], state["hostsfile"]))
    return state["ready_net"], state["ready_sub"], state["hostsfile"]


def phase_ready(api, created, a, out, state):
    net, _sub, hostsfile = ready_network(api, created, state)
    bridge = "brq" + net["id"][:11]
    rows = []
    for i in range(a.ready_ports):
        time.sleep(0.3)
        t0 = time.perf_counter()
        p = api.call("POST", "/ports", {"port": {"network_id": net["id"], "name": "ready-%d" % i,
                                                 "binding:host_id": a.host}}, expect=(201,))["port"]
        t_post = time.perf_counter() - t0
        created.add_port(p["id"])
        mac = p["mac_address"].lower()
        t_tap = t_dhcp = t_active = None
        n = 0
        while time.perf_counter() - t0 < 60 and None in (t_tap, t_dhcp, t_active):
            now = time.perf_counter() - t0
            if t_tap is None and tap_master(p["id"]) == bridge:
                t_tap = now
            if t_dhcp is None:
                try:
                    with open(hostsfile) as f:
                        if mac in f.read():
                            t_dhcp = now
                except OSError:
                    pass
            if t_active is None and n % 2 == 0:
                st = api.call("GET", "/ports/%s?fields=status" % p["id"])["port"]["status"]
                if st == "ACTIVE":
                    t_active = time.perf_counter() - t0
            n += 1
            time.sleep(0.005)
        if None in (t_tap, t_dhcp, t_active):
            raise RuntimeError("port %s not ready after 60s (tap %s, dhcp %s, active %s)"
                               % (p["id"], t_tap, t_dhcp, t_active))
        rows.append((t_post, t_tap, t_dhcp, t_active, max(t_tap, t_dhcp, t_active)))
        log("ready: port %d: POST %.0f ms, tap %.0f ms, dhcp host %.0f ms, ACTIVE %.0f ms"
            % (i, t_post * 1e3, t_tap * 1e3, t_dhcp * 1e3, t_active * 1e3))
    cols = ["post", "tap_on_bridge", "dhcp_host_entry", "active", "all_ready"]
    res = {"ports": len(rows)}
    for j, c in enumerate(cols):
        v = [r[j] for r in rows]
        res[c] = {"p50_ms": ms(pct(v, 50)), "p95_ms": ms(pct(v, 95)), "max_ms": ms(max(v))}
    out["ready"] = res
    created.delete_ports([p for p in created.ports])


def count_rule(marker):
    text = sh("iptables-save", "-t", "filter")
    return sum(1 for line in text.splitlines() if line.startswith("-A oxi-i") and marker in line)


def phase_sg(api, created, a, out, state):
    net, _sub, _hf = ready_network(api, created, state)
    sg = api.call("POST", "/security-groups", {"security_group": {"name": "bench-sg"}},
                  expect=(201,))["security_group"]
    created.sgs.append(sg["id"])
    ids = []

    def one(i):
        p = api.call("POST", "/ports", {"port": {"network_id": net["id"], "name": "sg-%d" % i,
                                                 "binding:host_id": a.host,
                                                 "security_groups": [sg["id"]]}}, expect=(201,))["port"]
        created.add_port(p["id"])
        ids.append(p["id"])

    t0 = time.perf_counter()
    with cf.ThreadPoolExecutor(8) as ex:
        list(ex.map(one, range(a.sg_ports)))
    t_created = time.perf_counter() - t0
    wait_active(api, ids)
    t_active = time.perf_counter() - t0
    log("sg: %d bound ports created in %.2fs, all ACTIVE after %.2fs" % (len(ids), t_created, t_active))
    time.sleep(3)
    probe = []
    for _ in range(5):
        t = time.perf_counter()
        sh("iptables-save", "-t", "filter")
        probe.append(time.perf_counter() - t)
    adds, adds_req, dels = [], [], []
    for k in range(a.sg_rounds):
        marker = " -s 10.242.%d.0/24 " % k
        t_req = time.perf_counter()
        rule = api.call("POST", "/security-group-rules", {"security_group_rule": {
            "security_group_id": sg["id"], "direction": "ingress", "ethertype": "IPv4",
            "protocol": "tcp", "port_range_min": 20000 + k, "port_range_max": 20000 + k,
            "remote_ip_prefix": "10.242.%d.0/24" % k}}, expect=(201,))["security_group_rule"]
        t_ans = time.perf_counter()
        n = 0
        while time.perf_counter() - t_ans < 60:
            n = count_rule(marker)
            if n >= len(ids):
                break
        t_done = time.perf_counter()
        if n < len(ids):
            raise RuntimeError("rule %d in %d of %d chains after 60s" % (k, n, len(ids)))
        adds.append(t_done - t_ans)
        adds_req.append(t_done - t_req)
        time.sleep(1.5)
        api.call("DELETE", "/security-group-rules/" + rule["id"], expect=(204,))
        t_ans = time.perf_counter()
        while time.perf_counter() - t_ans < 60:
            n = count_rule(marker)
            if n == 0:
                break
        if n:
            raise RuntimeError("rule %d still in %d chains 60s after its delete" % (k, n))
        dels.append(time.perf_counter() - t_ans)
        log("sg: round %d: rule in all %d ports' chains %.0f ms after the API's answer (%.0f ms after the "
            "request); gone %.0f ms after the delete" % (k, len(ids), adds[-1] * 1e3, adds_req[-1] * 1e3,
                                                         dels[-1] * 1e3))
        time.sleep(1.5)
    out["sg"] = {
        "ports": len(ids), "create_seconds": round(t_created, 2), "all_active_seconds": round(t_active, 2),
        "iptables_save_ms": ms(statistics.median(probe)), "rounds": len(adds),
        "add_after_answer": {"p50_ms": ms(pct(adds, 50)), "max_ms": ms(max(adds))},
        "add_after_request": {"p50_ms": ms(pct(adds_req, 50)), "max_ms": ms(max(adds_req))},
        "delete_after_answer": {"p50_ms": ms(pct(dels, 50)), "max_ms": ms(max(dels))},
    }
    created.delete_ports(list(ids))


def make_guest(api, created, a, net, name, gateway=None, port_security=True):
    """A port whose tap is a veth into namespace `name`: the agent finds the
    interface named as the port's tap and attaches it, as it does a
    guest's tap."""
    body = {"network_id": net["id"], "name": name}
    if not port_security:
        body.update({"port_security_enabled": False, "security_groups": []})
    p = api.call("POST", "/ports", {"port": body}, expect=(201,))["port"]
    created.add_port(p["id"])
    ns = NS_PREFIX + name
    sh("ip", "netns", "add", ns)
    created.namespaces.append(ns)
    tap = "tap" + p["id"][:11]
    sh("ip", "link", "add", tap, "type", "veth", "peer", "name", "eth0", "netns", ns)
    ip = p["fixed_ips"][0]["ip_address"]
    sub = api.call("GET", "/subnets/" + p["fixed_ips"][0]["subnet_id"])["subnet"]
    prefix = sub["cidr"].split("/")[1]
    sh("ip", "link", "set", "lo", "up", ns=ns)
    sh("ip", "link", "set", "eth0", "address", p["mac_address"], "mtu", str(net["mtu"]), "up", ns=ns)
    sh("ip", "address", "add", "%s/%s" % (ip, prefix), "dev", "eth0", ns=ns)
    if gateway:
        sh("ip", "route", "add", "default", "via", gateway, ns=ns)
    api.call("PUT", "/ports/" + p["id"], {"port": {"binding:host_id": a.host}})
    return p, ns, ip


def iperf(server_ns, client_ns, ip, seconds):
    srv = subprocess.Popen(["ip", "netns", "exec", server_ns, "iperf3", "-s", "-1", "-p", "5201"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(50):
            if "5201" in sh("ss", "-ltn", ns=server_ns):
                break
            time.sleep(0.1)
        p = subprocess.run(["ip", "netns", "exec", client_ns, "iperf3", "-c", ip, "-p", "5201",
                            "-t", str(seconds), "-J", "--connect-timeout", "3000"],
                           capture_output=True, text=True, timeout=seconds + 30)
        j = json.loads(p.stdout or "{}")
        if p.returncode != 0 or "sum_received" not in j.get("end", {}):
            gone = [ns for ns in (client_ns, server_ns)
                    if ns.startswith(NS_PREFIX + "g") and "eth0" not in sh("ip", "-br", "link", ns=ns)]
            hint = (" (the veth of %s is gone: another network agent on this host removed it?)" % gone
                    if gone else "")
            raise RuntimeError("iperf3 %s -> %s failed: %s%s" % (client_ns, ip, j.get("error", p.stderr[:300]), hint))
        return j["end"]["sum_received"]["bits_per_second"] / 1e9, j["end"]["sum_sent"].get("retransmits")
    finally:
        srv.kill()
        srv.wait()


def phase_throughput(api, created, a, out, state):
    net, sub, _hf = ready_network(api, created, state)
    mtu = net["mtu"]
    # the physical limit: a veth pair between two namespaces, same MTU
    for n in ("veth-a", "veth-b"):
        sh("ip", "netns", "add", NS_PREFIX + n)
        created.namespaces.append(NS_PREFIX + n)
    va, vb = NS_PREFIX + "veth-a", NS_PREFIX + "veth-b"
    sh("ip", "link", "add", "oxbv0", "netns", va, "mtu", str(mtu), "type", "veth",
       "peer", "name", "oxbv1", "netns", vb, "mtu", str(mtu))
    for ns, dev, addr in ((va, "oxbv0", "10.243.0.1/24"), (vb, "oxbv1", "10.243.0.2/24")):
        sh("ip", "link", "set", "lo", "up", ns=ns)
        sh("ip", "address", "add", addr, "dev", dev, ns=ns)
        sh("ip", "link", "set", dev, "up", ns=ns)

    # our data plane: two guests on one network, a third behind a router
    net2, sub2 = make_network(api, created, "bench-routed", "10.244.0.0/24")
    router = api.call("POST", "/routers", {"router": {"name": "bench-router"}}, expect=(201,))["router"]
    created.routers.append(router["id"])
    for s in (sub, sub2):
        api.call("PUT", "/routers/%s/add_router_interface" % router["id"], {"subnet_id": s["id"]})
    p1, ns1, ip1 = make_guest(api, created, a, net, "g1", gateway=sub["gateway_ip"])
    p2, ns2, _ip2 = make_guest(api, created, a, net, "g2", gateway=sub["gateway_ip"])
    p3, ns3, _ip3 = make_guest(api, created, a, net2, "g3", gateway=sub2["gateway_ip"])
    # the same bridge without the security-group chains: what the firewall costs
    p4, ns4, ip4 = make_guest(api, created, a, net, "g4", port_security=False)
    p5, ns5, _ip5 = make_guest(api, created, a, net, "g5", port_security=False)
    wait_active(api, [p["id"] for p in (p1, p2, p3, p4, p5)])
    deadline = time.time() + 60
    while not os.path.exists("/run/netns/qrouter-" + router["id"]) and time.time() < deadline:
        time.sleep(0.2)
    for p in (p1, p2, p3, p4, p5):
        if not tap_master(p["id"]):
            raise RuntimeError("the agent did not attach %s's veth to a bridge" % p["id"])
    time.sleep(1)
    paths = [("veth", vb, va, "10.243.0.1"), ("bridge", ns2, ns1, ip1), ("router", ns3, ns1, ip1),
             ("nosec", ns5, ns4, ip4)]
    rows = {name: [] for name, *_ in paths}
    for r in range(a.rounds):
        for name, cns, sns, ip in paths:
            gbps, retr = iperf(sns, cns, ip, a.seconds)
            rows[name].append(gbps)
            log("throughput: round %d %-6s %.2f Gbit/s (retransmits %s)" % (r, name, gbps, retr))
    res = {"mtu": mtu, "seconds": a.seconds, "rounds": a.rounds}
    for name in rows:
        res[name + "_gbps"] = [round(x, 2) for x in rows[name]]
        res[name + "_median_gbps"] = round(statistics.median(rows[name]), 2)
    for name in ("bridge", "router", "nosec"):
        res[name + "_pct_of_veth"] = round(100 * res[name + "_median_gbps"] / res["veth_median_gbps"], 1)
    out["throughput"] = res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--auth-url", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--host", required=True, help="the agent's host (binding:host_id)")
    ap.add_argument("--phases", default="rate,ready,sg,throughput")
    ap.add_argument("--ports", type=int, default=1000)
    ap.add_argument("--concurrency", default="1,8")
    ap.add_argument("--ready-ports", type=int, default=20)
    ap.add_argument("--sg-ports", type=int, default=100)
    ap.add_argument("--sg-rounds", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--networks-file", help="the ids of the networks made are appended here")
    a = ap.parse_args()
    a.concurrency = [int(c) for c in a.concurrency.split(",")]
    phases = a.phases.split(",")

    api = Api(a.auth_url, a.password)
    api.call("PUT", "/quotas/" + api.project, {"quota": {
        "port": -1, "network": -1, "subnet": -1, "router": -1, "security_group": -1,
        "security_group_rule": -1}})
    created = Created(api, a.networks_file)
    out, state, failed = {}, {}, None
    try:
        for ph in phases:
            t = time.perf_counter()
            if ph == "rate":
                phase_rate(api, created, a, out)
            elif ph == "ready":
                phase_ready(api, created, a, out, state)
            elif ph == "sg":
                phase_sg(api, created, a, out, state)
            elif ph == "throughput":
                phase_throughput(api, created, a, out, state)
            else:
                raise SystemExit("unknown phase " + ph)
            log("phase %s took %.1fs" % (ph, time.perf_counter() - t))
    except Exception as e:  # noqa: BLE001 - reported in the JSON, cleanup still runs
        failed = repr(e)
        log("FAILED:", failed)
    finally:
        left = created.cleanup()
        out["cleanup_left_networks"] = left
    if failed:
        out["error"] = failed
    print(json.dumps(out))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
