"""Backup and restore (issue 18 point 6): a consistent snapshot while writers run, a round trip through
the command line, and clear refusals."""
import json
import os
import sqlite3
import threading

import pytest
from click.testing import CliRunner
from flask.cli import ScriptInfo

import app as app_module
import models
from models import backup
from models.customers import Customer
from tests.conftest import ENGINE, worker_database

NOW = models.clock.to_local(models.clock.now())


def _count(path, table="customer"):
    with sqlite3.connect(path) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def _documents(tmp_path):
    folder = tmp_path / "documents"
    (folder / "ab").mkdir(parents=True)
    (folder / "ab" / ("ab" + "0" * 62)).write_bytes(b"contract bytes")
    return folder


def test_a_backup_is_one_snapshot_while_writers_run(app, make_customer, tmp_path, db_path):
    for i in range(30):
        make_customer(name=f"备份客户{i:02d}有限公司")
    template = Customer.get(Customer.name == "备份客户00有限公司").__data__
    stop, started = threading.Event(), threading.Event()
    written = []

    def writer():  # inserts the whole time the backup reads
        with models.db.connection_context():
            n = 0
            while not stop.is_set():
                row = {k: v for k, v in template.items() if k not in ("id", "credit_code")}
                with models.db.atomic():
                    Customer.insert(**{**row, "name": f"并发写入{n}", "name_norm": f"并发写入{n}"}).execute()
                written.append(n)
                n += 1
                if n == 5:
                    started.set()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert started.wait(30), "the writer did not get going"
        with models.db.connection_context():
            manifest = backup.backup(f"sqlite:///{db_path}", tmp_path / "b1", _documents(tmp_path), NOW)
    finally:
        stop.set()
        thread.join()
    copy = tmp_path / "b1" / "kehu.db"
    with sqlite3.connect(copy) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    taken = _count(copy)
    assert 30 <= taken < 30 + len(written) + 1  # some of the writes, never half of one
    assert manifest["engine"] == "sqlite" and manifest["documents"] == 1
    assert json.loads((tmp_path / "b1" / "manifest.json").read_text())["database_bytes"] == copy.stat().st_size
    assert (tmp_path / "b1" / "documents" / "ab" / ("ab" + "0" * 62)).read_bytes() == b"contract bytes"


def test_backup_refuses_a_folder_that_is_not_empty(app, tmp_path, db_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with models.db.connection_context(), pytest.raises(backup.BackupError, match="not empty"):
        backup.backup(f"sqlite:///{db_path}", tmp_path / "full", tmp_path / "none", NOW)


def test_restore_refuses_what_is_not_a_finished_backup(app, tmp_path, db_path):
    url = f"sqlite:///{db_path}"
    (tmp_path / "half").mkdir()
    with pytest.raises(backup.BackupError, match="not a finished"):
        backup.restore(url, tmp_path / "half", tmp_path / "docs", tmp_path, NOW)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "kehu.db").write_bytes(b"not a database at all" * 100)
    (tmp_path / "bad" / "manifest.json").write_text(json.dumps(
        {"format": 1, "engine": "sqlite", "database": "kehu.db", "database_bytes": 2100}))
    with pytest.raises(backup.BackupError, match="not a usable SQLite database"):
        backup.restore(url, tmp_path / "bad", tmp_path / "docs", tmp_path, NOW)
    assert _count(db_path, "region") > 0  # the current database is untouched


def test_restore_refuses_under_a_running_server(app, tmp_path, db_path):
    with models.db.connection_context():
        backup.backup(f"sqlite:///{db_path}", tmp_path / "b", tmp_path / "none", NOW)
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "server.pid").write_text(str(os.getppid()))  # a live process that is not this one
    with pytest.raises(backup.BackupError, match="server is running"):
        backup.restore(f"sqlite:///{db_path}", tmp_path / "b", tmp_path / "docs", instance, NOW)
    (instance / "server.pid").write_text("999999999")  # gone: restore may go ahead
    assert backup.server_running(instance) is None


def test_backup_and_restore_round_trip_through_the_command_line(tmp_path, monkeypatch, db_path):
    monkeypatch.setenv("KEHU_DATABASE_URL", f"sqlite:///{db_path}")
    runner = CliRunner()
    group = app_module.command_line()
    info = ScriptInfo(create_app=app_module.create_app)
    try:
        result = runner.invoke(group, ["migrate"], obj=info)
        assert result.exit_code == 0, result.output
        before = _count(db_path, "region")
        result = runner.invoke(group, ["backup", str(tmp_path / "snap")], obj=info)
        assert result.exit_code == 0, (result.output, result.exception)
        assert "backup in" in result.output and "sqlite database" in result.output
        with sqlite3.connect(db_path) as conn:  # a change after the backup ...
            conn.execute("INSERT INTO region (code, name_zh, name_en) VALUES ('after', '备份后', 'After')")
        assert _count(db_path, "region") == before + 1
        result = runner.invoke(group, ["restore", str(tmp_path / "snap"), "--yes"], obj=info)
        assert result.exit_code == 0, (result.output, result.exception)
        assert _count(db_path, "region") == before  # ... is undone by the restore
        assert list(db_path.parent.glob("kehu.db.before-restore-*"))  # and the replaced one is kept
        result = runner.invoke(group, ["restore", str(tmp_path / "nowhere"), "--yes"], obj=info)
        assert result.exit_code != 0 and "not a finished Kehu backup" in result.output
    finally:
        models.close_db()


@pytest.mark.skipif(ENGINE != "postgres", reason="PostgreSQL only (pg_dump and pg_restore)")
def test_backup_and_restore_round_trip_on_postgresql(tmp_path, monkeypatch, pg_server):
    """The same round trip on PostgreSQL, in a database of its own on the test cluster: `backup` writes a
    pg_dump archive and the documents, a change after it is undone by `restore` (pg_restore in one transaction),
    the documents come back."""
    from tests.pgcluster import admin_execute, with_database

    name = worker_database("kehu_backup")
    admin_execute(pg_server, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", f"CREATE DATABASE {name}")
    url = with_database(pg_server, name)
    monkeypatch.setenv("KEHU_DATABASE_URL", url)
    monkeypatch.setenv("KEHU_INSTANCE", str(tmp_path / "instance"))
    runner = CliRunner()
    group = app_module.command_line()
    info = ScriptInfo(create_app=app_module.create_app)

    def regions():
        models.init_db(url)
        with models.db.connection_context():
            n = models.db.execute_sql("SELECT count(*) FROM region").fetchone()[0]
        models.close_db()
        return n

    try:
        result = runner.invoke(group, ["migrate"], obj=info)
        assert result.exit_code == 0, result.output
        models.close_db()
        before = regions()
        result = runner.invoke(group, ["backup", str(tmp_path / "snap")], obj=info)
        assert result.exit_code == 0, (result.output, result.exception)
        manifest = json.loads((tmp_path / "snap" / backup.MANIFEST).read_text())
        assert manifest["engine"] == "postgresql" and manifest["database_bytes"] > 0
        models.close_db()
        models.init_db(url)
        with models.db.connection_context():
            models.db.execute_sql("INSERT INTO region (code, name_zh, name_en) VALUES ('after', '备份后', 'After')")
        models.close_db()
        assert regions() == before + 1
        result = runner.invoke(group, ["restore", str(tmp_path / "snap"), "--yes"], obj=info)
        assert result.exit_code == 0, (result.output, result.exception)
        models.close_db()
        assert regions() == before  # the change after the backup is undone
    finally:
        models.close_db()
        admin_execute(pg_server, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
