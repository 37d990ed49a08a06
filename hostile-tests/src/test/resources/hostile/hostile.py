#!/usr/bin/python3
"""The hostile-user suite's Python client: gRPC over api.sock with hand-encoded protobuf (no generated code), and
raw SOCK_SEQPACKET traffic on fd.sock. One subcommand per move; each prints lines the suite matches:
  OK ...            the call went through (with what came back)
  ERROR CODE text   the daemon refused it (gRPC status code and description)
Usage: hostile.py RUN_DIR COMMAND ARGS..."""
import os
import socket
import sys
import time

import grpc


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def string_field(num, text):
    data = text.encode() if isinstance(text, str) else text
    return varint(num << 3 | 2) + varint(len(data)) + data


def int_field(num, value):
    return varint(num << 3) + varint(value)


def fields(buf):
    """(number, value) pairs of one message: ints for varints, bytes for length-delimited."""
    i = 0
    while i < len(buf):
        key, shift = 0, 0
        while True:
            b = buf[i]; i += 1
            key |= (b & 0x7F) << shift; shift += 7
            if not b & 0x80:
                break
        num, wire = key >> 3, key & 7
        if wire == 0:
            val, shift = 0, 0
            while True:
                b = buf[i]; i += 1
                val |= (b & 0x7F) << shift; shift += 7
                if not b & 0x80:
                    break
            yield num, val
        elif wire == 2:
            n, shift = 0, 0
            while True:
                b = buf[i]; i += 1
                n |= (b & 0x7F) << shift; shift += 7
                if not b & 0x80:
                    break
            yield num, buf[i:i + n]
            i += n
        elif wire == 1:
            yield num, buf[i:i + 8]; i += 8
        elif wire == 5:
            yield num, buf[i:i + 4]; i += 4
        else:
            raise ValueError("unexpected wire type %d" % wire)


def lease_summary(buf):
    """id uid state of a Lease message."""
    f = {}
    for num, val in fields(buf):
        f.setdefault(num, val)
    return "%s uid=%s state=%s" % (f.get(1, b"").decode(), f.get(2, 0), f.get(10, 0))


def one_line(text):
    return " ".join(str(text).split())


class Api:
    def __init__(self, run_dir):
        self.channel = grpc.insecure_channel("unix:" + os.path.join(run_dir, "api.sock"),
                                             options=[("grpc.max_send_message_length", 64 << 20)])

    def call(self, method, request, timeout=10):
        return self.channel.unary_unary(method)(request, timeout=timeout)

    def stream(self, method, request, timeout=None):
        return self.channel.unary_stream(method)(request, timeout=timeout)


def refused(e):
    print("ERROR", e.code().name, one_line(e.details()), flush=True)


def acquire_request(devices, backend=0, memlock=0, allocation=""):
    req = b"".join(string_field(1, d) for d in devices)
    if backend:
        req += int_field(2, backend)
    if memlock:
        req += int_field(3, memlock)
    if allocation:
        req += string_field(5, allocation)
    return req


def fd_exchange(run_dir, payload, wait=5.0):
    """Sends one message on fd.sock; answers what came back: ('fds', n, lease, error) or ('closed', ...)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
        s.settimeout(wait)
        s.connect(os.path.join(run_dir, "fd.sock"))
        try:
            if payload is not None:
                s.send(payload)
            msg, fds, _flags, _addr = socket.recv_fds(s, 65536, 16)
        except socket.timeout:
            return "timeout", 0, "", ""
        except OSError as e:
            return "oserror", 0, "", e.strerror or str(e)
        for fd in fds:
            os.close(fd)
        if not msg:
            return "closed", len(fds), "", ""
        try:
            got = dict(fields(msg))
        except (ValueError, IndexError):
            return "garbled", len(fds), "", msg[:40].hex()
        return "reply", len(fds), got.get(1, b"").decode(), got.get(3, b"").decode()


def print_fd(result):
    kind, nfds, lease, error = result
    print("FD", kind, "fds=%d" % nfds, "lease=%s" % (lease or "-"), "error=%s" % one_line(error or "-"), flush=True)


def main():
    run_dir, cmd, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    api = Api(run_dir)
    try:
        if cmd == "acquire":
            # acquire [--backend N] [--memlock N] [--allocation T] [--redeem] [--hold] DEVICE...
            # --hold keeps this process (the lease's holder) alive until stdin closes.
            backend, memlock, allocation, redeem, hold, devices = 0, 0, "", False, False, []
            it = iter(args)
            for a in it:
                if a == "--backend":
                    backend = int(next(it))
                elif a == "--memlock":
                    memlock = int(next(it))
                elif a == "--allocation":
                    allocation = next(it)
                elif a == "--redeem":
                    redeem = True
                elif a == "--hold":
                    hold = True
                else:
                    devices.append(a)
            resp = api.call("/vfiobroker.v1.Leases/Acquire", acquire_request(devices, backend, memlock, allocation), timeout=30)
            got = dict(fields(resp))
            print("OK", "lease=" + lease_summary(got[1]).split()[0], "ticket=" + got[2].decode(), flush=True)
            if redeem:
                print_fd(fd_exchange(run_dir, got[2]))
            if hold:
                print("HOLDING", flush=True)
                sys.stdin.read()
        elif cmd == "acquire-huge":
            # One Acquire with N device strings (or one string of N bytes with --one).
            n = int(args[0])
            devices = ["x" * n] if "--one" in args else ["0000:00:00.0"] * n
            api.call("/vfiobroker.v1.Leases/Acquire", acquire_request(devices), timeout=30)
            print("OK accepted", flush=True)
        elif cmd == "release":
            got = api.call("/vfiobroker.v1.Leases/Release", string_field(1, args[0]))
            print("OK", lease_summary(got), flush=True)
        elif cmd == "get":
            got = api.call("/vfiobroker.v1.Leases/Get", string_field(1, args[0]))
            print("OK", lease_summary(got), flush=True)
        elif cmd == "list":
            got = api.call("/vfiobroker.v1.Leases/List", b"")
            leases = [lease_summary(v) for num, v in fields(got) if num == 1]
            print("OK", len(leases), *["[" + l + "]" for l in leases], flush=True)
        elif cmd == "state":
            # What an admin sees: every lease, and the policy in force.
            got = api.call("/vfiobroker.v1.Leases/List", b"")
            leases = sorted(lease_summary(v).replace(" ", ":") for num, v in fields(got) if num == 1)
            pol = dict(fields(api.call("/vfiobroker.v1.Policy/Get", b"")))
            print("STATE", "leases=" + ",".join(leases), "policy=" + pol.get(5, b"").decode(), flush=True)
        elif cmd == "policy-get":
            got = dict(fields(api.call("/vfiobroker.v1.Policy/Get", b"")))
            print("OK", "sha256=" + got.get(5, b"").decode(), "text_bytes=%d" % len(got.get(9, b"")), flush=True)
        elif cmd == "policy-reload":
            got = dict(fields(api.call("/vfiobroker.v1.Policy/Reload", b"")))
            print("OK", "state=%s" % got.get(1, 0), flush=True)
        elif cmd == "explain-other":
            got = dict(fields(api.call("/vfiobroker.v1.Policy/Explain", string_field(1, args[1]) + int_field(2, int(args[0])))))
            print("OK", "allowed=%s" % got.get(4, 0), flush=True)
        elif cmd == "memlock":
            got = api.call("/vfiobroker.v1.Accounting/GetMemlock", b"")
            # MemlockReport: leases (2), each with its uid (2); host (4) for admins only.
            uids = sorted({dict(fields(v)).get(2, 0) for num, v in fields(got) if num == 2})
            host = any(num == 4 for num, _ in fields(got))
            print("OK", "lease_uids=" + ",".join(map(str, uids)), "host=%s" % ("yes" if host else "no"), flush=True)
        elif cmd == "watch":
            # watch SECONDS [--kinds N,...]: prints the lease holders' uids of the lease events seen.
            seconds = float(args[0])
            seen = set()
            call = api.stream("/vfiobroker.v1.Events/Watch", b"", timeout=seconds)
            print("OPEN", flush=True)
            try:
                for ev in call:
                    f = dict(fields(ev))
                    if 12 in f:
                        seen.add(dict(fields(f[12])).get(2, 0))
            except grpc.RpcError as e:
                if e.code() != grpc.StatusCode.DEADLINE_EXCEEDED:
                    raise
            print("OK", "lease_uids=" + ",".join(map(str, sorted(seen))), flush=True)
        elif cmd == "streams":
            # streams N SECONDS: opens N Watch and N WatchMemlock streams, holds them, counts refusals.
            n, hold = int(args[0]), float(args[1])
            calls = []
            for i in range(n):
                calls.append(api.stream("/vfiobroker.v1.Events/Watch", b"", timeout=hold + 5))
                calls.append(api.stream("/vfiobroker.v1.Accounting/WatchMemlock", int_field(2, 60000), timeout=hold + 5))
            time.sleep(1.5)
            refused_calls = [c for c in calls if c.done()]
            codes = sorted({c.code().name for c in refused_calls})
            first = one_line(refused_calls[0].details()) if refused_calls else "-"
            print("STREAMS open=%d refused=%d codes=%s first=%s" % (len(calls) - len(refused_calls), len(refused_calls),
                                                                  ",".join(codes) or "-", first), flush=True)
            sys.stdin.read() if "--until-eof" in args else time.sleep(hold)
            for c in calls:
                c.cancel()
        elif cmd == "sse-flood":
            # sse-flood N PORT: opens N event streams on the REST port, counts the answers, holds until stdin closes.
            n, port = int(args[0]), int(args[1])
            socks, codes = [], {}
            for _ in range(n):
                s = socket.create_connection(("127.0.0.1", port), timeout=5)
                s.sendall(("GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAccept: text/event-stream\r\n\r\n" % port).encode())
                socks.append(s)
            for s in socks:
                try:
                    code = s.recv(64).split(b" ")[1].decode()
                except (OSError, IndexError):
                    code = "none"
                codes[code] = codes.get(code, 0) + 1
            opened = codes.get("200", 0)
            print("SSE open=%d refused=%d codes=%s" % (opened, n - opened, ",".join("%s:%d" % kv for kv in sorted(codes.items()))), flush=True)
            sys.stdin.read()
            for s in socks:
                s.close()
        elif cmd == "acquire-flood":
            # acquire-flood N DEVICE: N refused Acquires in a row; counts the status codes.
            n, device = int(args[0]), args[1]
            codes = {}
            last = ""
            for _ in range(n):
                try:
                    api.call("/vfiobroker.v1.Leases/Acquire", acquire_request([device]))
                    codes["OK"] = codes.get("OK", 0) + 1
                except grpc.RpcError as e:
                    codes[e.code().name] = codes.get(e.code().name, 0) + 1
                    last = one_line(e.details())
            print("FLOOD", " ".join("%s=%d" % kv for kv in sorted(codes.items())), "last=" + last, flush=True)
        elif cmd == "fd-ticket":
            print_fd(fd_exchange(run_dir, args[0].encode()))
        elif cmd == "fd-garbage":
            print_fd(fd_exchange(run_dir, bytes(range(56, 256))))
        elif cmd == "fd-oversized":
            print_fd(fd_exchange(run_dir, b"A" * 200000))
        elif cmd == "fd-empty":
            print_fd(fd_exchange(run_dir, b""))
        elif cmd == "fd-silent":
            # Connects and sends nothing: the daemon must answer or hang up on its own.
            print_fd(fd_exchange(run_dir, None, wait=float(args[0])))
        elif cmd == "fd-bad-tickets":
            n = int(args[0])
            kinds = {}
            for i in range(n):
                kind = fd_exchange(run_dir, ("forged-ticket-%06d-" % i + "A" * 30).encode())[0]
                kinds[kind] = kinds.get(kind, 0) + 1
            print("FLOOD", " ".join("%s=%d" % kv for kv in sorted(kinds.items())), flush=True)
        elif cmd == "fd-idle":
            # fd-idle N: opens N silent connections and holds them until stdin closes.
            n = int(args[0])
            socks = []
            for _ in range(n):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
                try:
                    s.connect(os.path.join(run_dir, "fd.sock"))
                    socks.append(s)
                except OSError:
                    s.close()
            print("IDLE opened=%d" % len(socks), flush=True)
            sys.stdin.read()
            for s in socks:
                s.close()
        else:
            print("usage: unknown command " + cmd, file=sys.stderr)
            sys.exit(2)
    except grpc.RpcError as e:
        refused(e)


if __name__ == "__main__":
    main()
