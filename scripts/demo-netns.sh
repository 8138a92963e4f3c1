#!/usr/bin/env bash
# A network namespace to try static-router (or dvmrp-router) in, without touching the host's
# interfaces: a router namespace with eth0 and eth1, as examples/smcroute.conf expects, a
# sender on eth0's network and a receiver on eth1's. Needs root (or sudo) and iproute2.
#
#   scripts/demo-netns.sh up      create the namespaces (NAME, NAME-src, NAME-rcv)
#   scripts/demo-netns.sh send    send 5 pings to 225.1.2.3 from 192.0.2.10 (TTL 5) and show
#                                 the router's kernel routes with their packet counters
#   scripts/demo-netns.sh down    remove them
#
# NAME is $DEMO_NS, default mcr-demo. The addresses are documentation ranges:
#   NAME-src  src0 192.0.2.10/24     ->  NAME  eth0 192.0.2.1/24
#   NAME      eth1 198.51.100.1/24   ->  NAME-rcv  rcv0 198.51.100.10/24
set -euo pipefail

ns=${DEMO_NS:-mcr-demo}
cmd=${1:-}

if [ "$(id -u)" -ne 0 ]; then
    echo "$0: needs root: run it as root or with sudo" >&2
    exit 77
fi
command -v ip >/dev/null || { echo "$0: the ip command (iproute2) is missing" >&2; exit 69; }

nsx() { ip netns exec "$1" "${@:2}"; }

up() {
    if ip netns list | grep -qw "^$ns"; then
        echo "$ns exists already; '$0 down' removes it" >&2
        exit 1
    fi
    ip netns add "$ns"
    ip netns add "$ns-src"
    ip netns add "$ns-rcv"
    ip link add eth0 netns "$ns" type veth peer name src0 netns "$ns-src"
    ip link add eth1 netns "$ns" type veth peer name rcv0 netns "$ns-rcv"
    ip -n "$ns" addr add 192.0.2.1/24 dev eth0
    ip -n "$ns" addr add 198.51.100.1/24 dev eth1
    ip -n "$ns-src" addr add 192.0.2.10/24 dev src0
    ip -n "$ns-rcv" addr add 198.51.100.10/24 dev rcv0
    for n in "$ns" "$ns-src" "$ns-rcv"; do ip -n "$n" link set lo up; done
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set eth1 up
    ip -n "$ns-src" link set src0 up
    ip -n "$ns-rcv" link set rcv0 up
    # The sender's multicast leaves through src0.
    ip -n "$ns-src" route add 224.0.0.0/4 dev src0
    ip -n "$ns-rcv" route add 224.0.0.0/4 dev rcv0
    cat <<EOT
Namespaces $ns (eth0 192.0.2.1, eth1 198.51.100.1), $ns-src and $ns-rcv are up.
Run the router in $ns, from the repository root (after cargo build):

  ip netns exec $ns target/debug/static-router -n -l info -f examples/smcroute.conf \\
      -u /tmp/$ns.sock -P /tmp/$ns.pid

then, in another shell:

  target/debug/mcroutectl -u /tmp/$ns.sock show
  $0 send
  $0 down
EOT
}

send() {
    if command -v ping >/dev/null; then
        nsx "$ns-src" ping -c 5 -i 0.2 -t 5 -W 1 -I src0 225.1.2.3 >/dev/null || true
    elif command -v socat >/dev/null; then
        for _ in 1 2 3 4 5; do
            echo demo | nsx "$ns-src" socat - UDP4-DATAGRAM:225.1.2.3:5000,ip-multicast-ttl=5
        done
    else
        echo "$0: send needs ping (iputils-ping) or socat" >&2
        exit 69
    fi
    echo "kernel routes in $ns (Group Origin Iif Pkts Bytes Wrong Oifs):"
    nsx "$ns" cat /proc/net/ip_mr_cache
}

down() {
    for n in "$ns-rcv" "$ns-src" "$ns"; do
        ip netns del "$n" 2>/dev/null || true
    done
    echo "removed $ns, $ns-src and $ns-rcv"
}

case "$cmd" in
    up) up ;;
    send) send ;;
    down) down ;;
    *)
        echo "usage: $0 up|send|down   (namespace name: \$DEMO_NS, default mcr-demo)" >&2
        exit 64
        ;;
esac
