"""Time models.duplicates.normalize_name, which runs on every customer save and on every duplicate
lookup while a name is typed (issue 12 point 6: the traditional → simplified step is zhconv now).

    .venv/bin/python benchmarks/bench_normalize.py [--names 20000] [--rounds 7]

Inputs are the demo's company names (simplified), the same names in traditional characters, and
the prefixes a rep types (4, 6 characters). Prints microseconds per name: median and p95 over chunks of 500 names.
"""
import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import zhconv  # noqa: E402

from models.duplicates import normalize_name  # noqa: E402
from seeds import demo  # noqa: E402


def inputs(n, seed=5):
    rng = random.Random(seed)
    cities = [c[0] for region in demo.CITIES.values() for c in region]
    simplified = [demo.company_name(rng, rng.choice(cities), rng.choice(list(demo.NAME_CORES)))[0] for _ in range(n)]
    return {
        "simplified": simplified,
        "traditional": [zhconv.convert(s, "zh-hant") for s in simplified],
        "typed prefix": [s[:rng.choice((4, 6))] for s in simplified],
        "latin": [f"Acme Garments No.{i} Co., Ltd." for i in range(n)],
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--names", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    normalize_name("華東國際貿易有限公司")  # the first call loads the dictionary
    print(f"{'input':<14} {'median µs':>10} {'p95 µs':>8}")
    for label, names in inputs(args.names).items():
        per_name = []  # one figure per chunk of 500 names
        for _ in range(args.rounds):
            for i in range(0, len(names), 500):
                chunk = names[i:i + 500]
                start = time.perf_counter()
                for name in chunk:
                    normalize_name(name)
                per_name.append((time.perf_counter() - start) / len(chunk) * 1e6)
        per_name.sort()
        p95 = per_name[int(0.95 * (len(per_name) - 1))]
        print(f"{label:<14} {statistics.median(per_name):>10.2f} {p95:>8.2f}")


if __name__ == "__main__":
    main()
