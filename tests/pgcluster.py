"""A throw-away PostgreSQL cluster for the tests: Debian's server binaries, its own data folder and port,
no durability (fsync off), removed when stopped.

    cluster = Cluster(Path("/tmp/somewhere")).start()
    cluster.url("kehu_test")   # postgresql://postgres@127.0.0.1:<port>/kehu_test
    cluster.stop()

The test command starts one for the PostgreSQL pass (`app.py test --engine postgres`); a developer can
point the tests at a server of their own with KEHU_TEST_PG_URL (a URL to a database the user may create
databases from, e.g. postgresql://postgres@127.0.0.1:5432/postgres).
"""
import glob
import os
import shutil
import socket
import subprocess
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit


def server_bin():
    """The folder of Debian's PostgreSQL server programs (initdb, pg_ctl), newest version first."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    def __init__(self, root):
        self.root = Path(root)
        self.data = self.root / "data"
        self.port = None
        self.bin = server_bin()

    def _run(self, *argv):
        # initdb and postgres refuse to run as root: run them as Debian's postgres user then.
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        done = subprocess.run(prefix + [str(a) for a in argv], capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{Path(str(argv[0])).name} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
        return done

    def start(self):
        if self.bin is None:
            raise RuntimeError("PostgreSQL's server is not installed (apt-get install postgresql)")
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(self.bin / "initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--locale=C.UTF-8", "--no-sync")
        self.port = free_port()
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300 "
                   "-c shared_buffers=128MB")
        self._run(self.bin / "pg_ctl", "-D", self.data, "-o", options, "-l", self.root / "server.log", "-w",
                  "start")
        return self

    def url(self, database="postgres"):
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def stop(self):
        if self.port is not None:
            try:
                self._run(self.bin / "pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")
            except RuntimeError:
                pass
            self.port = None
        shutil.rmtree(self.root, ignore_errors=True)


def with_database(url, database):
    """`url` pointed at another database of the same server."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + database))


def admin_execute(url, *statements):
    """Run statements outside a transaction (CREATE / DROP DATABASE) on the server at `url`."""
    import psycopg2

    parts = urlsplit(url)
    conn = psycopg2.connect(host=parts.hostname, port=parts.port, user=parts.username or "postgres",
                            password=parts.password, dbname="postgres")
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            for sql in statements:
                cur.execute(sql)
    finally:
        conn.close()


class Reset:
    """Puts a test database back to how it was when made (migrated, reference data), in one transaction:
    every table emptied, the reference rows written back, the sequences set back. ~30 ms against
    0.3–1 s for a new database from a template (which copies every file and checkpoints)."""

    def __init__(self, url):
        import psycopg2

        parts = urlsplit(url)
        self.conn = psycopg2.connect(host=parts.hostname, port=parts.port, user=parts.username or "postgres",
                                     password=parts.password, dbname=parts.path.lstrip("/"))
        with self.conn.cursor() as cur:
            cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
            self.tables = [name for (name,) in cur.fetchall()]
            self.rows = {}
            for table in self.tables:
                cur.execute(f'SELECT * FROM "{table}"')
                rows = cur.fetchall()
                if rows:
                    self.rows[table] = ([d.name for d in cur.description], rows)
            cur.execute("SELECT schemaname || '.' || sequencename, last_value FROM pg_sequences "
                        "WHERE schemaname = 'public'")
            self.sequences = cur.fetchall()
        self.conn.commit()

    def __call__(self):
        from psycopg2.extras import execute_values

        with self.conn.cursor() as cur:
            cur.execute("SET lock_timeout = '10s'")
            # Foreign keys are not checked while the rows go and come back (the order does not matter).
            cur.execute("SET session_replication_role = replica")
            cur.execute("; ".join(f'DELETE FROM "{t}"' for t in self.tables))
            for table, (columns, rows) in self.rows.items():
                names = ", ".join(f'"{c}"' for c in columns)
                execute_values(cur, f'INSERT INTO "{table}" ({names}) VALUES %s', rows, page_size=1000)
            if self.sequences:
                calls = ", ".join("setval(%s, 1, false)" if last is None else "setval(%s, %s, true)"
                                  for _name, last in self.sequences)
                params = [v for name, last in self.sequences for v in ((name,) if last is None else (name, last))]
                cur.execute(f"SELECT {calls}", params)
            cur.execute("SET session_replication_role = DEFAULT")
        self.conn.commit()

    def close(self):
        self.conn.close()
