"""How long ``publisher --help`` and ``publisher validate config.toml`` take to start (issue 13: at
most 0.3 s on a quiet machine), beside a bare ``python -c pass``.

Each command runs --runs times as a subprocess from the repository (the example config.toml),
its standard output discarded, its wall time taken with perf_counter around the call; a run that
exits other than 0 stops the bench. The commands take turns within each round, so that a
neighbour's burst falls on all of them alike. One untimed run of each first writes the bytecode.
Prints the machine, the load average before and after, then per command its median and minimum
(and maximum).

Run it by hand (not in CI) from the repository:

    .venv/bin/python bench/startup.py [--runs 20] [--publisher PATH ...]

--publisher names a ``publisher`` console script to time (default: .venv/bin/publisher); give it
more than once to compare versions in one run, e.g. a virtual environment whose path holds an
older checkout.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GOAL = 0.3  # seconds


def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines()
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo
                  if line.startswith("model name")), "?")  # fmt: skip
    return f"nproc {os.cpu_count()}, {model}, Python {platform.python_version()}"


def load() -> str:
    return ", ".join(f"{n:.2f}" for n in os.getloadavg())


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    options.add_argument("--runs", type=int, default=20, help="timed runs of each command")
    options.add_argument(
        "--publisher",
        type=Path,
        action="append",
        help="a publisher console script to time (repeatable; default: .venv/bin/publisher)",
    )
    args = options.parse_args()
    scripts = args.publisher or [REPO / ".venv" / "bin" / "publisher"]
    commands = {"python -c pass": [sys.executable, "-c", "pass"]}
    for script in scripts:
        where = "" if len(scripts) == 1 else f" [{script}]"
        commands[f"publisher --help{where}"] = [str(script), "--help"]
        validate = [str(script), "validate", "config.toml"]
        commands[f"publisher validate config.toml{where}"] = validate
    for command in commands.values():  # bytecode written, and each command works
        subprocess.run(command, cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    print(machine())
    print(f"load average before: {load()}; {args.runs} runs of each command, in turn")
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.runs):
        for name, command in commands.items():
            times[name].append(timed(command))
    print(f"load average after: {load()}")
    width = max(map(len, commands))
    print(f"{'command':{width}}  median s  min s  max s")
    for name, seconds in times.items():
        median = statistics.median(seconds)
        over = "" if name.startswith("python") or median <= GOAL else f"  (over {GOAL} s)"
        print(f"{name:{width}}  {median:8.3f}  {min(seconds):5.3f}  {max(seconds):5.3f}{over}")


if __name__ == "__main__":
    main()
