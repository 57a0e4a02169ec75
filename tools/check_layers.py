#!/usr/bin/env python3
"""Fails if an #include runs against the layering of docs/architecture.md: a folder of src/ may
include only itself and the folders its line below names (no arrow back up, no sideways arrow
that is not listed). Run by ctest (Layers.Includes) and so by .ci/run."""
import pathlib
import re
import sys

# Each folder, bottom up, with the folders it may use.
ALLOWED = {
    "common": [],
    "crypto": ["common"],
    "pki": ["common", "crypto"],
    "wire": ["common"],
    "ts": ["common", "crypto"],
    "net": ["common"],
    "protocol": ["common", "crypto", "pki", "wire"],
    "provisioning": ["common", "crypto", "pki", "protocol"],
    "store": ["common", "crypto", "pki", "protocol"],
    "observe": ["common", "protocol", "wire", "net"],
    "kat": ["common", "crypto", "pki", "wire", "ts", "protocol"],
    "headend": ["common", "crypto", "pki", "wire", "ts", "protocol", "store"],
    "host": ["common", "crypto", "ts", "protocol"],
    "service": ["common", "crypto", "pki", "wire", "net", "protocol", "store", "observe", "headend", "host"],
    "attack": ["common", "crypto", "pki", "wire", "net", "protocol", "service"],
    "demo": ["common", "wire", "ts", "protocol", "observe", "kat", "attack"],
    "loadgen": ["common", "crypto", "pki", "wire", "net", "protocol", "provisioning", "store", "service"],
    "bench": ["common", "crypto", "pki", "wire", "ts", "net", "protocol", "provisioning", "store", "observe",
              "headend", "host", "service"],
    "cli": ["common", "crypto", "pki", "wire", "ts", "net", "protocol", "provisioning", "store", "observe",
            "kat", "headend", "host", "service", "demo", "bench", "attack", "loadgen"],
}
# Third-party headers a layer must not see (the roles and what lies below them never do I/O).
FORBIDDEN_SYSTEM = {folder: ["asio.hpp", "sqlite3.h", "libpq-fe.h", "CLI/CLI.hpp"]
                    for folder in ["common", "crypto", "pki", "wire", "ts", "protocol", "observe", "host", "kat"]}
# The attack suite runs its link scenarios against the real TA server, but stores nothing.
FORBIDDEN_SYSTEM["attack"] = ["sqlite3.h", "libpq-fe.h", "CLI/CLI.hpp"]

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^">]+)[">]', re.M)


def main(root: pathlib.Path) -> int:
    src = root / "src"
    problems = []
    for path in sorted(src.rglob("*")):
        if path.suffix not in (".h", ".cpp"):
            continue
        folder = path.relative_to(src).parts[0]
        if folder not in ALLOWED:
            problems.append(f"{path.relative_to(root)}: folder '{folder}' has no place in the layering")
            continue
        for kind, name in INCLUDE.findall(path.read_text()):
            if kind == "<":
                if name in FORBIDDEN_SYSTEM.get(folder, []):
                    problems.append(f"{path.relative_to(root)}: {folder}/ must not include <{name}>")
                continue
            target = name.split("/")[0]
            if "/" not in name or target == folder:
                continue
            if target not in ALLOWED:
                problems.append(f"{path.relative_to(root)}: includes \"{name}\" from an unknown folder")
            elif target not in ALLOWED[folder]:
                problems.append(f"{path.relative_to(root)}: {folder}/ may not include \"{name}\" ({target}/ is "
                                f"not below it)")
    for p in problems:
        print(p)
    print(f"check_layers: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parent.parent)))
