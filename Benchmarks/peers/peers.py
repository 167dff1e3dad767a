#!/usr/bin/python3
"""The peers row of BENCHMARKS.md: sequential get / put with the Python clients Debian
ships (python3-etcd3 over grpcio, python3-kazoo in pure Python), against the same stores
and with the same key and value size as the Swift benchmark.

    peers.py etcd HOST:PORT get|put COUNT
    peers.py zookeeper HOST:PORT get|set COUNT
Prints one line: "ops_per_sec=<n> errors=<n>".
"""
import sys, time

store, address, op, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
value = b"v" * 64
errors = 0
if store == "etcd":
    import etcd3
    host, port = address.rsplit(":", 1)
    client = etcd3.client(host=host, port=int(port), timeout=10)
    client.put("bench-peer-key", value)
    start = time.monotonic()
    for _ in range(count):
        if op == "get":
            got, _meta = client.get("bench-peer-key")
            errors += got != value
        else:
            client.put("bench-peer-key", value)
    elapsed = time.monotonic() - start
    client.close()
elif store == "zookeeper":
    from kazoo.client import KazooClient
    import logging
    logging.basicConfig(level=logging.ERROR)
    zk = KazooClient(hosts=address, timeout=10)
    zk.start(timeout=10)
    zk.ensure_path("/autocluster-bench-peer")
    zk.set("/autocluster-bench-peer", value)
    start = time.monotonic()
    for _ in range(count):
        if op == "get":
            got, _stat = zk.get("/autocluster-bench-peer")
            errors += got != value
        else:
            zk.set("/autocluster-bench-peer", value)
    elapsed = time.monotonic() - start
    zk.stop()
    zk.close()
else:
    sys.exit("peers.py: store must be etcd or zookeeper")
print(f"ops_per_sec={count / elapsed:.0f} errors={errors}")
