#!/usr/bin/env python3
"""Per-operation cost of each function: the difference between two callgrind runs of the same
workload with SMALL and LARGE operations, divided by LARGE - SMALL (set-up cost cancels out).

    callgrind_per_op.py SMALL.callgrind LARGE.callgrind OPS TOP   (used by scripts/profile.sh)

Reads `callgrind_annotate` output (self, then --inclusive=yes); prints the TOP functions by
inclusive and by self instructions per op. Names are still mangled (pipe through swift demangle).
"""
import re, subprocess, sys

line = re.compile(r"^\s*([\d,]+)\s+\([\s\d.]+%\)\s+(\S.*)$")

def costs(path, inclusive):
    args = ["callgrind_annotate", "--threshold=100"] + (["--inclusive=yes"] if inclusive else []) + [path]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    result = {}
    for text in out.splitlines():
        m = line.match(text)
        if not m or "PROGRAM TOTALS" in text:
            continue
        name = re.sub(r"'\d+", "", m.group(2))  # fold callgrind's recursion copies (f'2) into f
        result[name] = max(result.get(name, 0), int(m.group(1).replace(",", "")))
    return result

small, large, ops, top = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
for title, inclusive in (("inclusive", True), ("self", False)):
    a, b = costs(small, inclusive), costs(large, inclusive)
    rows = sorted(((b[k] - a.get(k, 0)) / ops, k) for k in b)
    rows.reverse()
    print(f"\n{title} instructions per op (top {top})")
    for per_op, name in rows[:top]:
        print(f"{per_op:10.0f}  {name[:190]}")
