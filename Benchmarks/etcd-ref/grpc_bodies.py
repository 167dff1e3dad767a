#!/usr/bin/env python3
"""Writes the gRPC request bodies h2load sends in scripts/bench.sh: the exact bytes
EtcdClient puts on the wire for get(key) and put(key, value) — one length-prefixed,
uncompressed gRPC message each (etcdserverpb.RangeRequest / PutRequest).

    grpc_bodies.py OUTDIR KEY VALUE_SIZE
"""
import os, struct, sys

def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)

def field_bytes(number, data):
    return varint((number << 3) | 2) + varint(len(data)) + data

def frame(message):
    return b"\x00" + struct.pack(">I", len(message)) + message

outdir, key, size = sys.argv[1], sys.argv[2].encode(), int(sys.argv[3])
os.makedirs(outdir, exist_ok=True)
with open(os.path.join(outdir, "range.bin"), "wb") as f:
    f.write(frame(field_bytes(1, key)))                                   # RangeRequest.key
with open(os.path.join(outdir, "put.bin"), "wb") as f:
    f.write(frame(field_bytes(1, key) + field_bytes(2, b"v" * size)))     # PutRequest.key, .value
