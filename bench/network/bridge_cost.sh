#!/usr/bin/env bash
# bench/network/bridge_cost.sh - where the throughput of a bridged guest goes,
# without oxistack: iperf3 (TCP, one stream) between two namespaces over
#   veth            a plain veth pair (the limit run.sh compares with)
#   bridge-nf-off   a Linux bridge and two veths, bridge-nf-call-iptables=0
#   bridge-nf-on    the same with bridge-nf-call-iptables=1, empty FORWARD
#   bridge-ct       the same with a physdev + conntrack rule in FORWARD, as
#                   the agent's security groups make every packet cross
# all inside private namespaces (the "host" too, so the root namespace's
# bridges, firewall and sysctls are never touched, and no network agent on
# the machine sees any of it), $ROUNDS rounds interleaved, $SECONDS_PER_RUN s
# each, MTU $MTU. Prints one line per run and the medians. Run as root;
# removes its namespaces at the end.
set -euo pipefail
ROUNDS="${ROUNDS:-3}" SECONDS_PER_RUN="${IPERF_SECONDS:-4}" MTU="${MTU:-1450}"
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 2; }
command -v iperf3 >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q iperf3 >/dev/null
P="oxbench-k$$-"
H="${P}host" A="${P}a" B="${P}b" VA="${P}va" VB="${P}vb"
cleanup() { local n; for n in "$H" "$A" "$B" "$VA" "$VB"; do ip netns delete "$n" 2>/dev/null || true; done; }
trap cleanup EXIT
for n in "$H" "$A" "$B" "$VA" "$VB"; do ip netns add "$n"; ip -n "$n" link set lo up; done

ip link add kv0 netns "$VA" mtu "$MTU" type veth peer name kv1 netns "$VB" mtu "$MTU"
ip -n "$VA" address add 10.246.1.1/24 dev kv0 && ip -n "$VA" link set kv0 up
ip -n "$VB" address add 10.246.1.2/24 dev kv1 && ip -n "$VB" link set kv1 up

ip -n "$H" link add br0 type bridge stp_state 0 forward_delay 0
ip -n "$H" link set br0 mtu "$MTU" up
for x in a b; do
    ns="$A"; [ "$x" = b ] && ns="$B"
    ip link add "tap$x" netns "$H" mtu "$MTU" type veth peer name eth0 netns "$ns" mtu "$MTU"
    ip -n "$H" link set "tap$x" master br0 up
    ip -n "$ns" link set eth0 up
done
ip -n "$A" address add 10.246.2.1/24 dev eth0
ip -n "$B" address add 10.246.2.2/24 dev eth0

run() {  # NAME CLIENT_NS SERVER_NS SERVER_IP
    ip netns exec "$3" iperf3 -s -1 -p 5201 >/dev/null 2>&1 &
    local srv=$! g
    for _ in $(seq 50); do ip netns exec "$3" ss -ltn | grep -q 5201 && break; sleep 0.1; done
    g="$(ip netns exec "$2" iperf3 -c "$4" -p 5201 -t "$SECONDS_PER_RUN" -J |
        python3 -c 'import json, sys; print(round(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e9, 1))')"
    wait "$srv" || true
    echo "$1 $g"
}
nf() { ip netns exec "$H" sysctl -q -w "net.bridge.bridge-nf-call-iptables=$1"; }
ipt() { ip netns exec "$H" iptables "$@"; }

out="$(for ((r = 0; r < ROUNDS; r++)); do
    run veth "$VB" "$VA" 10.246.1.1
    nf 0; ipt -F FORWARD; run bridge-nf-off "$B" "$A" 10.246.2.1
    nf 1; run bridge-nf-on "$B" "$A" 10.246.2.1
    ipt -A FORWARD -m physdev --physdev-is-bridged -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
    ipt -A FORWARD -m physdev --physdev-is-bridged -j ACCEPT
    run bridge-ct "$B" "$A" 10.246.2.1
    ipt -F FORWARD
done)"
echo "$out"
echo "load average $(cut -d' ' -f1-3 /proc/loadavg); medians (Gbit/s):"
echo "$out" | python3 -c '
import statistics, sys
runs = {}
for line in sys.stdin:
    name, g = line.split()
    runs.setdefault(name, []).append(float(g))
ref = statistics.median(runs["veth"])
for name, v in runs.items():
    m = statistics.median(v)
    print("  %-14s %6.1f  (%3.0f %% of veth)" % (name, m, 100 * m / ref))
'
