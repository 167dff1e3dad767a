#!/usr/bin/env python3
"""known_leaks.py SITES OUTPUT: exit 0 when OUTPUT (a sanitizer test run's output) shows every
test passed and LeakSanitizer reports only direct leaks allocated at a site SITES lists; else
exit 1, saying why on stderr. See scripts/lib/accept-known-leaks.sh."""
import re
import sys

sites_path, output_path = sys.argv[1], sys.argv[2]
sites = {}
for line in open(sites_path, encoding="utf-8"):
    line = line.strip()
    if not line or line.startswith("#"):
        continue
    module, build_id, offset, what = line.split(None, 3)
    sites[(module, build_id.lower(), int(offset, 16))] = what

text = open(output_path, encoding="utf-8", errors="replace").read()
lines = text.splitlines()

def no(reason):
    print(f"accept-known-leaks: not accepted: {reason}", file=sys.stderr)
    sys.exit(1)

if not re.search(r"Test run with \d+ tests? in \d+ suites? passed", text):
    no("the run does not report every test passed")
if "✘" in text:
    no("a test or suite failed (✘)")
reports = [i for i, l in enumerate(lines) if "ERROR: LeakSanitizer: detected memory leaks" in l]
if not reports:
    no("no LeakSanitizer report: the failure is something else")
if re.search(r"ERROR: (AddressSanitizer|ThreadSanitizer|UndefinedBehaviorSanitizer)", text):
    no("another sanitizer reported an error")

frame = re.compile(r"^\s*#\d+ 0x[0-9a-f]+ (?:in \S+ )?(.*)$")
module_offset = re.compile(r"\(([^()]+)\+0x([0-9a-f]+)\)(?: \(BuildId: ([0-9a-f]+)\))?")
accepted = {}
for start in reports:
    i = start + 1
    while i < len(lines) and not lines[i].startswith("SUMMARY:"):
        m = re.match(r"^(Direct|Indirect) leak of (\d+) byte\(s\) in (\d+) object\(s\) allocated from:", lines[i])
        if m and m.group(1) == "Direct":
            # The first frame outside the sanitizer runtime's allocator.
            j = i + 1
            site = None
            while j < len(lines) and frame.match(lines[j]):
                rest = frame.match(lines[j]).group(1)
                if "compiler-rt" not in rest and "sanitizer_common" not in rest:
                    site = module_offset.search(rest)
                    if site is None:
                        no(f"a direct leak allocated from {rest.strip()} (no module offset to match)")
                    break
                j += 1
            if site is None:
                no(f"a direct leak with no frame outside the allocator: {lines[i]}")
            key = (site.group(1).rsplit("/", 1)[-1], (site.group(3) or "").lower(), int(site.group(2), 16))
            if key not in sites:
                no(f"a direct leak of {m.group(2)} bytes allocated at {site.group(1)}+0x{site.group(2)} (build {site.group(3)}), not a listed site")
            accepted[key] = accepted.get(key, 0) + int(m.group(3))
        i += 1
    if i == len(lines):
        no("a LeakSanitizer report without its SUMMARY line")

for (module, build_id, offset), count in sorted(accepted.items()):
    print(f"accept-known-leaks: every test passed; LeakSanitizer reported only a known library loss: "
          f"{count} object(s) from {module}+0x{offset:x} ({sites[(module, build_id, offset)]}; "
          f"scripts/lsan-known-losses.txt) — accepted", file=sys.stderr)
sys.exit(0)
