"""Backup and restore: a consistent copy of the database and the documents folder, taken while the
server runs (`python3 app.py backup [PATH]`, `python3 app.py restore PATH`).

A backup is a folder: the database (SQLite: `kehu.db`, written by `VACUUM INTO`, which reads one snapshot
and never restarts however busy the writers are, unlike the stepwise online backup; PostgreSQL:
`kehu.pgdump` by `pg_dump --format=custom`, also one snapshot), then `documents/` (copied after the
database, so every file the snapshot names is there: stored files are never rewritten), then
`manifest.json`, written last — a folder without it is an unfinished backup and restore refuses it.

Restore puts the backup's database in place of the current one (kept beside it as
`<name>.before-restore-<time>`, SQLite) and adds the backup's documents; the server must be stopped
(`serve` leaves its process id in the instance folder while it runs, and restore checks it).
"""
import json
import os
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from models.base import db, is_sqlite

MANIFEST = "manifest.json"
SQLITE_FILE = "kehu.db"
PG_FILE = "kehu.pgdump"
SERVER_PID = "server.pid"
FORMAT = 1


class BackupError(Exception):
    """A backup or restore that cannot go ahead; the message says why and what to do."""


def default_folder(instance, now):
    return Path(instance) / "backups" / f"kehu-{now:%Y%m%d-%H%M%S}"


def _postgres_url(url):
    """A Peewee URL (postgres+pool://, postgresql://) as libpq takes it."""
    parts = urlsplit(url)
    return urlunsplit(("postgresql",) + tuple(parts[1:]))


def _sqlite_path(url):
    path = url.split("://", 1)[1][1:].split("?", 1)[0]
    if not path or path == ":memory:":
        raise BackupError("An in-memory database cannot be backed up or restored.")
    return Path(path)


def _copy_tree(source, target):
    """Files of `source` missing in `target` (stored documents never change once written); returns the count."""
    copied = 0
    if not source.is_dir():
        return 0
    for path in sorted(source.rglob("*")):
        if not path.is_file():
            continue
        dest = target / path.relative_to(source)
        if dest.exists() and dest.stat().st_size == path.stat().st_size:
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".part")
        shutil.copy2(path, tmp)
        os.replace(tmp, dest)
        copied += 1
    return copied


def backup(url, folder, documents, now):
    """Write a backup of the database at `url` and the `documents` folder into `folder` (new or empty);
    returns the manifest (what was written, sizes, seconds)."""
    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()):
        raise BackupError(f"{folder} is not empty: choose a new folder for the backup.")
    folder.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    if is_sqlite():
        target = folder / SQLITE_FILE
        db.execute_sql("VACUUM INTO ?", (str(target),))
        engine, database_file = "sqlite", SQLITE_FILE
    else:
        target = folder / PG_FILE
        _run(["pg_dump", "--format=custom", "--no-owner", f"--file={target}", _postgres_url(url)], "pg_dump")
        engine, database_file = "postgresql", PG_FILE
    database_seconds = time.monotonic() - started
    files = _copy_tree(Path(documents), folder / "documents")
    manifest = {"format": FORMAT, "engine": engine, "database": database_file, "taken_at": now.isoformat(),
                "database_bytes": target.stat().st_size, "documents": files,
                "database_seconds": round(database_seconds, 2), "seconds": round(time.monotonic() - started, 2)}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return manifest


def _run(command, name):
    if shutil.which(command[0]) is None:
        raise BackupError(f"{name} is not installed here (Debian: apt-get install postgresql-client).")
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"{name} failed: {done.stderr.strip()[-500:]}")


def read_manifest(folder):
    folder = Path(folder)
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except FileNotFoundError:
        raise BackupError(f"{folder} is not a finished Kehu backup (no {MANIFEST}).") from None
    except ValueError:
        raise BackupError(f"{folder / MANIFEST} is damaged.") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{folder} was written by another version of the backup format.")
    return manifest


def server_running(instance):
    """The pid of a `serve` still running on this instance folder, else None."""
    try:
        pid = int((Path(instance) / SERVER_PID).read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid if pid != os.getpid() else None


def restore(url, folder, documents, instance, now):
    """Put the backup in `folder` in place of the database at `url` and add its documents; returns a summary.
    Call it with no connection open (the command does)."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    pid = server_running(instance)
    if pid:
        raise BackupError(f"The server is running (process {pid}) on this instance: stop it, then restore.")
    source = folder / manifest["database"]
    if not source.is_file() or source.stat().st_size != manifest["database_bytes"]:
        raise BackupError(f"{source} is missing or not the size the manifest records.")
    summary = {"database": str(source), "documents": 0, "kept": None}
    if url.startswith("sqlite"):
        if manifest["engine"] != "sqlite":
            raise BackupError("This backup is of a PostgreSQL database; the current database is SQLite.")
        _check_sqlite(source)
        target = _sqlite_path(url)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            kept = target.with_name(f"{target.name}.before-restore-{now:%Y%m%d-%H%M%S}")
            _checkpoint(target)
            os.replace(target, kept)
            summary["kept"] = str(kept)
        for suffix in ("-wal", "-shm"):
            Path(str(target) + suffix).unlink(missing_ok=True)
        tmp = target.with_name(target.name + ".restoring")
        shutil.copy2(source, tmp)
        os.replace(tmp, target)
    else:
        if manifest["engine"] != "postgresql":
            raise BackupError("This backup is of a SQLite database; the current database is PostgreSQL.")
        _run(["pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction",
              f"--dbname={_postgres_url(url)}", str(source)], "pg_restore")
    summary["documents"] = _copy_tree(folder / "documents", Path(documents))
    return summary


def _check_sqlite(path):
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            ok = conn.execute("PRAGMA quick_check").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} is not a usable SQLite database ({exc}).") from None
    if ok != "ok":
        raise BackupError(f"{path} fails SQLite's check: {ok}")


def _checkpoint(path):
    """Fold the current database's write-ahead log into it before it is set aside (it stays complete)."""
    try:
        with sqlite3.connect(path) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlite3.DatabaseError:
        pass  # a damaged current database is kept as it is
