"""Run any benchmark script with its clock reading CPU time instead of wall time.

    .venv/bin/python benchmarks/cpu_clock.py benchmarks/bench_pools.py --db /work/bench/big.db

On a shared machine, wall times measure the neighbours: the same claim took 4 ms or 40 ms depending
on what else ran on the two cores. The CPU this process spent (user + system, all its threads) does
not depend on them, so figures taken under load can be compared with each other and with the quiet
machine's wall times (the work cannot have taken less wall time than its CPU on a quiet machine).
Time spent waiting for the disk is not counted: say so when a step is disk-bound.

Every script in this folder times with `time.perf_counter()`; it is replaced by `time.process_time()`
before the script runs, and the script runs as `__main__` with the remaining arguments.
"""
import runpy
import sys
import time
from pathlib import Path


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    script = Path(argv[0])
    if not script.is_file():
        print(f"no such script: {script}", file=sys.stderr)
        return 2
    time.perf_counter = time.process_time
    sys.argv = [str(script), *argv[1:]]
    sys.path.insert(0, str(script.resolve().parent))
    print(f"[cpu_clock] {script.name}: times below are CPU seconds of this process, not wall time", flush=True)
    runpy.run_path(str(script), run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main())
