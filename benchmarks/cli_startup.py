"""CLI start-up: how long ``copyalign --version``, ``--help`` and a simple ``works lookup`` take, beside the
interpreter's own floor and another Python CLI a user has (pip), in the same run.

Each command runs ``--runs`` times in a fresh process; reported are the median and best wall time and the
median CPU time (user + system of the child, from ``os.wait4``), which the machine's load disturbs less than
wall time. Targets (issue 21): ``--version`` and ``--help`` under 0.3 s, ``works lookup`` under 0.8 s.

    python benchmarks/cli_startup.py [--runs 15] [--out benchmarks/results/cli_startup.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _machine import machine_info  # noqa: E402

BIN = Path(sys.executable).parent


def _run(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run of ``cmd`` (its output discarded)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed")
    return wall, usage.ru_utime + usage.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "cli_startup.json")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "COPYALIGN_DATABASE_URL": f"sqlite:///{tmp}/registry.db",
            "COPYALIGN_DATA_DIR": f"{tmp}/data",
        }
        work = Path(tmp) / "poem.txt"
        work.write_text("Call me Ishmael. Some years ago, never mind how long precisely, I went to sea.\n")
        copyalign = [str(BIN / "copyalign")]
        subprocess.run([*copyalign, "init"], env=env, check=True, capture_output=True)
        subprocess.run(
            [*copyalign, "works", "add", str(work), "--title", "Moby"], env=env, check=True, capture_output=True
        )
        commands = {
            "python -c pass (the floor)": [sys.executable, "-c", "pass"],
            "pip --version (peer)": [sys.executable, "-m", "pip", "--version"],
            "copyalign --version": [*copyalign, "--version"],
            "copyalign --help": [*copyalign, "--help"],
            "copyalign works lookup FILE": [*copyalign, "works", "lookup", str(work)],
        }
        rows = {}
        for name, cmd in commands.items():
            _run(cmd, env)  # warm the file cache
            runs = [_run(cmd, env) for _ in range(args.runs)]
            walls, cpus = [w for w, _ in runs], [c for _, c in runs]
            rows[name] = {
                "wall_median_s": round(statistics.median(walls), 4),
                "wall_best_s": round(min(walls), 4),
                "cpu_median_s": round(statistics.median(cpus), 4),
            }
            print(
                f"{name:32} wall {rows[name]['wall_median_s']:.3f} s (best {rows[name]['wall_best_s']:.3f})"
                f"  cpu {rows[name]['cpu_median_s']:.3f} s"
            )
    floor = rows["python -c pass (the floor)"]["cpu_median_s"]
    for row in rows.values():
        row["cpu_over_floor"] = round(row["cpu_median_s"] / floor, 2) if floor else None
    result = {
        "benchmark": "cli_startup",
        "machine": machine_info(("copyalign", "typer", "rich")),
        "load_average": os.getloadavg(),
        "runs": args.runs,
        "commands": rows,
        "targets_s": {"copyalign --version": 0.3, "copyalign --help": 0.3, "copyalign works lookup FILE": 0.8},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
