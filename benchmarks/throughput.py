"""Requests per second of one page from the one waitress process, as `serve` runs it (the app's THREADS, 4), with
client threads on the same machine; then the server's resident memory.

    .venv/bin/python benchmarks/throughput.py --db /work/bench/big.db [--user rep001] [--url /customers]
        [--clients 8] [--seconds 20] [--threads N]

The server is `app.build_server` on the given database in a process of its own (no demo load, no sweeper);
the clients log in through the login form and GET the page over and over. Each client's requests are
bounded by count and time, to 127.0.0.1 only. Say the machine's load with the figure: the client threads
share the two cores with the server.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from seeds import demo  # noqa: E402

SERVER = """
import sys
sys.path.insert(0, {root!r})
from app import build_server, create_app
app = create_app({{"DATABASE_URL": "sqlite:///" + {db!r}}})
server = build_server(app, "127.0.0.1", {port}{threads})
import app as app_module
getattr(app_module, "freeze_startup", lambda: None)()  # as serve does (older checkouts have none)
print("ready", flush=True)
server.run()
"""


def free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid):
    """User + system CPU of process `pid` so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def log_in(base, username):
    session = requests.Session()
    form = session.get(f"{base}/login", timeout=30).text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)
    answer = session.post(f"{base}/login", data={"csrf_token": token, "username": username, "password": demo.PASSWORD},
                          timeout=30, allow_redirects=False)
    if answer.status_code not in (302, 303):
        sys.exit(f"cannot log in as {username}: {answer.status_code}")
    return session


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--user", default="rep001")
    parser.add_argument("--url", default="/customers")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--threads", type=int, default=0, help="the server's threads (0: the app's THREADS setting)")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--max-requests", type=int, default=20000, help="per client, a bound on the run")
    parser.add_argument("--code", default=str(ROOT), help="the checkout whose app serves (another commit's, to compare)")
    args = parser.parse_args(argv)
    port = free_port()
    code = SERVER.format(root=str(Path(args.code).resolve()), db=str(Path(args.db).resolve()), port=port,
                         threads=f", threads={args.threads}" if args.threads else "")
    server = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "KEHU_NO_BOOTSTRAP": "1"})
    try:
        if server.stdout.readline().strip() != "ready":
            sys.exit("the server did not start")
        base = f"http://127.0.0.1:{port}"
        sessions = [log_in(base, args.user) for _ in range(args.clients)]
        for s in sessions:  # warm: every server thread's connection and page cache
            s.get(base + args.url, timeout=30)
        load = os.getloadavg()
        cpu_before, server_before = os.times(), cpu_seconds(server.pid)
        counts, latencies, errors = [0] * args.clients, [], []
        deadline = time.monotonic() + args.seconds

        def client(i):
            session = sessions[i]
            while time.monotonic() < deadline and counts[i] < args.max_requests:
                started = time.perf_counter()
                answer = session.get(base + args.url, timeout=30)
                latencies.append((time.perf_counter() - started) * 1000)
                if answer.status_code != 200:
                    errors.append(answer.status_code)
                counts[i] += 1

        started = time.monotonic()
        threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - started
        server_cpu = cpu_seconds(server.pid) - server_before
        total = sum(counts)
        print(f"{args.user} GET {args.url}: {total} requests in {elapsed:.1f} s from {args.clients} client threads = "
              f"{total / elapsed:.1f} requests/s; latency median {statistics.median(latencies):.1f} ms, "
              f"p95 {sorted(latencies)[int(0.95 * (len(latencies) - 1))]:.1f} ms; non-200: {len(errors)}")
        print(f"server: {server_cpu:.1f} s CPU over the run ({server_cpu * 1000 / max(total, 1):.1f} ms a request, all its "
              f"threads), RSS {rss_mib(server.pid):.1f} MiB; "
              f"load average at start {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} on {os.cpu_count()} cores; "
              f"client CPU {sum(os.times()[:2]) - sum(cpu_before[:2]):.1f} s")
        return 1 if errors else 0
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
