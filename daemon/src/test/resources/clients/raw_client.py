#!/usr/bin/python3
"""A vfio-broker client without Java or generated code: gRPC over the Unix socket with hand-encoded protobuf,
then the ticket redeemed on the fd socket with SCM_RIGHTS. Proves the wire protocol, not the Java library."""
import socket
import sys

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
    data = text.encode()
    return varint(num << 3 | 2) + varint(len(data)) + data


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
        else:
            raise ValueError("unexpected wire type %d" % wire)


def main():
    api_sock, device = sys.argv[1], sys.argv[2]
    channel = grpc.insecure_channel("unix:" + api_sock)
    acquire = channel.unary_unary("/vfiobroker.v1.Leases/Acquire")
    try:
        resp = acquire(string_field(1, device), timeout=30)
    except grpc.RpcError as e:
        print("ERROR", e.code().name, e.details(), flush=True)
        return
    got = dict(fields(resp))
    lease = dict(fields(got[1]))
    print("LEASE", lease[1].decode(), lease.get(2, 0), lease.get(4, 0), flush=True)
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
        s.connect(got[4].decode())
        s.send(got[2])
        msg, fds, _flags, _addr = socket.recv_fds(s, 65536, 16)
    bundle = list(fields(msg))
    print("FDS", len(fds), sum(1 for num, _ in bundle if num == 2), flush=True)
    for fd in fds:
        print("FD", repr(__import__("os").pread(fd, 64, 0).decode().strip()), flush=True)
    release = channel.unary_unary("/vfiobroker.v1.Leases/Release")
    release(string_field(1, lease[1].decode()), timeout=30)
    print("RELEASED", flush=True)


if __name__ == "__main__":
    main()
