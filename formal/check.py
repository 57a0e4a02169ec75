#!/usr/bin/env python3
"""Checks every row of formal/checks.txt with spin, under both profiles (formal/README.md).

For each (profile, scenario) it generates the verifier once (spin -a), compiles it, and runs it
for `live` (the honest run must get a control word through: the scenario is not vacuous) and
for each property of the rows with that scenario. A property expected to hold must hold with
the whole state space searched; one expected violated must give a trail, which is kept with its
replay. Exit status 1 on any unexpected verdict or incomplete search.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROFILES = ("koo2010", "hardened1")
MEMLIM_MB = 4096


def read_checks(path):
    rows = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        fields = line.split()
        if len(fields) < 4 or any(v not in ("V", "H") for v in fields[2:4]):
            sys.exit(f"{path}:{n}: expected: row property V|H V|H [-D...]")
        rows.append({"row": fields[0], "property": fields[1],
                     "expected": dict(zip(PROFILES, fields[2:4])), "flags": fields[4:]})
    return rows


WORD = {"V": "trail", "H": "holds"}


def check_doc(doc, rows):
    """docs/security.md's model column names, per claim row, exactly the checks of checks.txt."""
    want = {}
    for r in rows:
        want.setdefault(r["row"], []).append(
            f"`{r['property']}` {WORD[r['expected']['koo2010']]} / {WORD[r['expected']['hardened1']]}")
    problems, seen = [], set()
    for line in doc.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        m = re.fullmatch(r"`([a-z0-9-]+)`", cells[0]) if len(cells) >= 6 else None
        if not m:
            continue
        name, model = m.group(1), cells[5]
        seen.add(name)
        if name in want:
            if model != "; ".join(want[name]):
                problems.append(f"{name}: the model column says '{model}', checks.txt says '{'; '.join(want[name])}'")
        elif not model.startswith("not modelled"):
            problems.append(f"{name}: no row in checks.txt, and the model column does not say 'not modelled'")
    problems += [f"{name}: in checks.txt, not a row of {doc}" for name in want if name not in seen]
    return problems


def run(cmd, cwd, timeout=None):
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def build(work, profile, flags):
    """Generates and compiles the verifier in its own directory; returns that directory."""
    d = work / (profile + "".join(f.replace("-D", "_").replace("=", "") for f in flags))
    sources = sorted(HERE.glob("*.pml"))
    if (d / "pan").exists() and all((d / f.name).exists() and (d / f.name).read_bytes() == f.read_bytes()
                                    for f in sources):
        return d  # built from the same models: reused
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True, exist_ok=True)
    for f in sources:
        shutil.copy(f, d)
    r = run(["spin", "-a", *flags, f"{profile}.pml"], d)
    if r.returncode != 0 or not (d / "pan.c").exists():
        sys.exit(f"spin -a {' '.join(flags)} {profile}.pml failed:\n{r.stdout}{r.stderr}")
    # -O0: pan.c compiles in 4 s instead of 20, and these searches run seconds either way
    cflags = ["-O0", "-DSAFETY", "-DVECTORSZ=2048", f"-DMEMLIM={MEMLIM_MB}", "-w"]
    cflags += ["-DCOLLAPSE"]  # lossless state compression: the 1 KB state vector stores in ~0.1 KB
    r = run(["gcc", *cflags, "-o", "pan", "pan.c"], d)
    if r.returncode != 0:
        sys.exit(f"gcc pan.c failed ({profile} {' '.join(flags)}):\n{r.stderr}")
    return d


def verify(d, prop):
    """Runs pan for one property; returns (violated, states, memory MB, seconds, output)."""
    trail = d / f"{d.name.split('_')[0]}.pml.trail"
    if trail.exists():
        trail.unlink()
    start = time.monotonic()
    r = run(["./pan", "-N", prop, "-E", "-m1000000"], d)
    seconds = time.monotonic() - start
    out = r.stdout + r.stderr
    errors = re.search(r"errors: (\d+)", out)
    if errors is None:
        raise RuntimeError(f"pan gave no verdict for {prop} in {d.name}:\n{out[-2000:]}")
    if "max search depth too small" in out or "out of memory" in out or "bytes limit" in out:
        raise RuntimeError(f"incomplete search for {prop} in {d.name}: depth or memory bound hit")
    states = int(re.search(r"(\d+) states, stored", out).group(1))
    memory = float(re.search(r"([\d.]+)\s+total actual memory usage", out).group(1))
    return int(errors.group(1)) > 0, states, memory, seconds, out


def readable_replay(d, profile, flags):
    """The trail replayed by spin, its printf lines only, one event per line."""
    r = run(["spin", "-t", *flags, f"{profile}.pml"], d)
    lines = []
    for line in r.stdout.splitlines():
        line = re.sub(r"\s+", " ", line).strip()
        if re.match(r"^[a-z_]+(\[\d+\])?(\.\w+)? = ", line):
            break  # the final values of every variable follow
        if not line or line.startswith(("ltl ", "Never claim", "spin: trail", "#processes", "queue")):
            continue
        lines.append(line)
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", default="build/formal", help="where verifiers and trails go")
    ap.add_argument("--only", help="check only the rows whose name contains this")
    ap.add_argument("--doc", help="docs/security.md: check its model column against checks.txt first")
    args = ap.parse_args()
    if shutil.which("spin") is None:
        sys.exit("spin is not installed (scripts/install-deps.sh test_and_ci installs it)")
    work = Path(args.work).resolve()
    trails = work / "trails"
    trails.mkdir(parents=True, exist_ok=True)
    rows = read_checks(HERE / "checks.txt")
    if args.doc:
        problems = check_doc(Path(args.doc), rows)
        if problems:
            print("formal: docs/security.md and formal/checks.txt disagree:\n  " + "\n  ".join(problems))
            return 1
    if args.only:
        rows = [r for r in rows if args.only in r["row"]]
    failures = []
    tasks = {}  # (profile, flags) -> [(row, property, expected)], the live check first
    for row in rows:
        for profile in PROFILES:
            key = (profile, tuple(row["flags"]))
            tasks.setdefault(key, [(row["row"], "live", "V")])
            tasks[key].append((row["row"], row["property"], row["expected"][profile]))

    def check_one(key):
        profile, flags = key
        d = build(work, profile, list(flags))
        results = []
        for row_name, prop, want in tasks[key]:
            try:
                violated, states, memory, seconds, _ = verify(d, prop)
            except RuntimeError as e:
                results.append((row_name, prop, profile, want, None, 0, 0.0, 0.0, str(e)))
                continue
            if violated and prop != "live":
                name = f"{profile}-{row_name}-{prop}"
                shutil.copy(d / f"{profile}.pml.trail", trails / f"{name}.trail")
                (trails / f"{name}.txt").write_text(
                    f"# spin -t {' '.join(flags)} {profile}.pml   in {d} (formal/README.md)\n"
                    + readable_replay(d, profile, list(flags)))
            results.append((row_name, prop, profile, want, "V" if violated else "H", states, memory, seconds, None))
        return results

    print(f"{'row':30} {'property':14} {'profile':10} {'expect':6} {'got':6} {'states':>10} {'MB':>7} {'s':>6}")
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        done = pool.map(check_one, list(tasks))
        for results in done:
            for row_name, prop, profile, want, got, states, memory, seconds, error in results:
                if error:
                    failures.append(error)
                    print(f"{row_name:30} {prop:14} {profile:10} {want:6} {'?':6}", flush=True)
                    continue
                mark = "" if got == want else "   <-- UNEXPECTED"
                print(f"{row_name:30} {prop:14} {profile:10} {want:6} {got:6} {states:>10} {memory:>7.1f} {seconds:>6.1f}{mark}",
                      flush=True)
                if got != want:
                    failures.append(f"{row_name} {prop} {profile}: expected {want}, got {got}")
    if failures:
        print("\nformal: FAILED\n  " + "\n  ".join(failures))
        return 1
    print(f"\nformal: every verdict as expected; trails in {trails}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
