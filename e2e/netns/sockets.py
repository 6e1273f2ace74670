#!/usr/bin/env python3
"""TCP endpoints for the netns suite (Node cannot call getsockopt).

serve   --tag T --port P [--port P ...] [--ipv6] [--lifetime S]
        Listens on 0.0.0.0:P (and [::]:P with --ipv6) for each P, prints
        "READY" once every socket is bound, and answers each connection with
        one JSON line: {"tag", "local": [ip, port], "peer": [ip, port],
        "original_dst": [ip, port] | null}. original_dst is what
        SO_ORIGINAL_DST (IPv4: SOL_IP/80, IPv6: SOL_IPV6/IP6T_SO_ORIGINAL_DST=80)
        reports: the destination before iptables REDIRECT rewrote it. Exits by
        itself after --lifetime seconds.

connect --host H --port P [--uid U] [--gid G] [--bind ADDR] [--timeout S]
        Drops to U/G (no supplementary groups) before creating the socket, so
        iptables' owner match sees them; connects, prints the server's line and
        exits 0, or prints the error to stderr and exits 1.
"""

import argparse
import json
import os
import selectors
import socket
import struct
import sys
import time

SO_ORIGINAL_DST = 80  # linux/netfilter_ipv4.h; IP6T_SO_ORIGINAL_DST in linux/netfilter_ipv6/ip6_tables.h is also 80
SOL_IP = 0
SOL_IPV6 = 41


def original_dst(conn):
    try:
        if conn.family == socket.AF_INET:
            raw = conn.getsockopt(SOL_IP, SO_ORIGINAL_DST, 16)  # struct sockaddr_in
            return [socket.inet_ntop(socket.AF_INET, raw[4:8]), struct.unpack("!H", raw[2:4])[0]]
        raw = conn.getsockopt(SOL_IPV6, SO_ORIGINAL_DST, 28)  # struct sockaddr_in6
        return [socket.inet_ntop(socket.AF_INET6, raw[8:24]), struct.unpack("!H", raw[2:4])[0]]
    except OSError:
        return None  # no conntrack entry, e.g. a connection over loopback that no rule touched


def serve(args):
    sel = selectors.DefaultSelector()
    for port in args.port:
        families = [socket.AF_INET] + ([socket.AF_INET6] if args.ipv6 else [])
        for family in families:
            s = socket.socket(family, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            s.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", port))
            s.listen(16)
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ)
    print("READY", flush=True)
    deadline = time.monotonic() + args.lifetime
    while time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.5):
            try:
                conn, peer = key.fileobj.accept()
            except BlockingIOError:
                continue
            with conn:
                conn.settimeout(2)
                local = conn.getsockname()
                reply = {
                    "tag": args.tag,
                    "local": [local[0], local[1]],
                    "peer": [peer[0], peer[1]],
                    "original_dst": original_dst(conn),
                }
                try:
                    conn.sendall((json.dumps(reply) + "\n").encode())
                except OSError as e:
                    print(f"send failed: {e}", file=sys.stderr, flush=True)


def connect(args):
    if args.gid is not None:
        os.setgroups([])
        os.setgid(args.gid)
    if args.uid is not None:
        os.setuid(args.uid)
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(args.timeout)
    try:
        if args.bind:
            s.bind((args.bind, 0))
        s.connect((args.host, args.port))
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        sys.stdout.write(data.decode())
        return 0
    except OSError as e:
        print(f"connect {args.host}:{args.port}: {e}", file=sys.stderr)
        return 1
    finally:
        s.close()


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    sv = sub.add_parser("serve")
    sv.add_argument("--tag", required=True)
    sv.add_argument("--port", type=int, action="append", required=True)
    sv.add_argument("--ipv6", action="store_true")
    sv.add_argument("--lifetime", type=float, default=60)
    c = sub.add_parser("connect")
    c.add_argument("--host", required=True)
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--uid", type=int)
    c.add_argument("--gid", type=int)
    c.add_argument("--bind")
    c.add_argument("--timeout", type=float, default=3)
    args = p.parse_args()
    if args.cmd == "serve":
        serve(args)
        return 0
    return connect(args)


if __name__ == "__main__":
    sys.exit(main())
