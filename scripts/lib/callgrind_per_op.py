#!/usr/bin/env python3
"""Per-operation cost of each function: the difference between two callgrind runs of the same
workload with SMALL and LARGE operations, divided by LARGE - SMALL (set-up cost cancels out).

    callgrind_per_op.py SMALL.callgrind LARGE.callgrind OPS TOP   (used by scripts/profile.sh)
    callgrind_per_op.py --components SMALL.callgrind LARGE.callgrind OPS

Reads `callgrind_annotate` output (self, then --inclusive=yes); prints the TOP functions by
inclusive and by self instructions per op. Names are still mangled (pipe through swift demangle).
--components instead sums the self cost per op by where the code comes from (library, or the
Swift module for code in the executable), as one table row.
"""
import re, subprocess, sys

line = re.compile(r"^\s*([\d,]+)\s+\([\s\d.]+%\)\s+(\S.*)$")

def costs(path, inclusive):
    args = ["callgrind_annotate", "--threshold=100", "--auto=no"] + (["--inclusive=yes"] if inclusive else []) + [path]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    result = {}
    for text in out.splitlines():
        m = line.match(text)
        if not m or "PROGRAM TOTALS" in text:
            continue
        name = re.sub(r"'\d+", "", m.group(2))  # fold callgrind's recursion copies (f'2) into f
        result[name] = max(result.get(name, 0), int(m.group(1).replace(",", "")))
    return result

def component(name):
    obj = name[name.rfind("[") + 1:-1] if name.endswith("]") else ""
    base = obj.rsplit("/", 1)[-1]
    for lib, label in (("libnghttp2", "nghttp2"), ("libprotobuf-c", "protobuf-c"), ("libzookeeper", "C ZooKeeper client"),
                       ("libswift_Concurrency", "Swift concurrency + dispatch"), ("libdispatch", "Swift concurrency + dispatch"),
                       ("libswiftCore", "Swift runtime (retain/release, alloc, exclusivity, generics)"),
                       ("libFoundation", "Foundation"), ("libev", "libev"), ("ld-linux", "ld.so (TLS, lazy binding)"),
                       ("libc.so", "libc (malloc, locks, syscall stubs)"), ("libssl", "OpenSSL"), ("libcrypto", "OpenSSL")):
        if base.startswith(lib):
            return label
    symbol = name.split(":", 1)[1] if ":" in name else name
    m = re.search(r"\$s(\d+)([A-Za-z_]\w*)", symbol)
    if m:
        module = m.group(2)[:int(m.group(1))]
        if module.startswith("NIO") or module in ("DequeModule", "_NIODataStructures", "Atomics", "_AtomicsShims"):
            return "SwiftNIO"
        if module in ("Etcd", "ZooKeeper"):
            return "AutoCluster " + module
        if module == "CoreMetrics" or module == "Metrics":
            return "swift-metrics"
        if module == "AutoClusterBench":
            return "benchmark loop"
        return module
    if re.search(r"\$s[sS]", symbol):
        return "Swift stdlib (specialized into the executable)"
    if base in ("h2load", "zk_ref"):
        return base
    return "other (" + (base or "?") + ")"

if sys.argv[1] == "--components":
    small, large, ops = sys.argv[2], sys.argv[3], int(sys.argv[4])
    a, b = costs(small, False), costs(large, False)
    groups = {}
    for k in b:
        groups[component(k)] = groups.get(component(k), 0) + (b[k] - a.get(k, 0)) / ops
    total = sum(groups.values())
    print(f"{total:10.0f}  total")
    for label, value in sorted(groups.items(), key=lambda kv: -kv[1]):
        if abs(value) >= 100:
            print(f"{value:10.0f}  {label}")
    sys.exit(0)

small, large, ops, top = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
for title, inclusive in (("inclusive", True), ("self", False)):
    a, b = costs(small, inclusive), costs(large, inclusive)
    rows = sorted(((b[k] - a.get(k, 0)) / ops, k) for k in b)
    rows.reverse()
    print(f"\n{title} instructions per op (top {top})")
    for per_op, name in rows[:top]:
        print(f"{per_op:10.0f}  {name[:190]}")
