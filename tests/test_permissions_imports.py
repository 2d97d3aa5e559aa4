"""Permission matrix of customer import and export: admins and marketing import (a job is its uploader's,
and the admins'); everyone exports the customer list they see; admins set the export limits. Allowed:
2xx/3xx and the row written; denied: 404 for a plain and an htmx request, nothing written."""
import io

import pytest

from models import imports
from models.imports import ImportJob
from tests.test_permissions import ACTOR, ROLES, Action, check_action, parse_table, world  # noqa: F401

SHEET = "客户名称,城市\n矩阵测试服饰有限公司,上海\n".encode()

ROLE_ACTIONS = {
    "imports": Action("GET", "/imports"),
    "job": Action("GET", "/imports/{job}"),
    "progress": Action("GET", "/imports/{job}/progress"),
    "rejected": Action("GET", "/imports/{job}/rejected.csv"),
    "preview": Action("POST", "/imports/{fresh}/mapping", {"header_row": "1", "col_0": "name", "action": "preview"}),
    "check": Action("POST", "/imports/{fresh}/mapping", {"header_row": "1", "col_0": "name", "action": "check"},
                    row=lambda i: ImportJob.select().where((ImportJob.id == i["fresh"]) & (ImportJob.state == "checked"))),
    "run": Action("POST", "/imports/{job}/run", {"on_name": "skip"}, "import.started",
                  lambda i: ImportJob.select().where((ImportJob.id == i["job"]) & (ImportJob.state == "done"))),
    "remap": Action("POST", "/imports/{job}/remap", {},
                    row=lambda i: ImportJob.select().where((ImportJob.id == i["job"]) & (ImportJob.state == "mapping"))),
    "retry": Action("POST", "/imports/{failed}/retry", {},
                    row=lambda i: ImportJob.select().where((ImportJob.id == i["failed"]) & (ImportJob.state == "checked"))),
    "export_csv": Action("GET", "/exports/customers.csv", audit="customer.exported"),
    "export_xlsx": Action("GET", "/exports/customers.xlsx?scope=all", audit="customer.exported"),
    "limits_form": Action("GET", "/exports/limits"),
    "limits": Action("POST", "/exports/limits", {"sales": "10", "manager": "10", "marketing": "10", "service": "10",
                                                 "admin": "10"}, "export.limits_changed"),
}
ROLE_TABLE = """
role       imports job progress rejected preview check run remap retry export_csv export_xlsx limits_form limits
sales      -       -   -        -        -       -     -   -     -     Y          Y           -           -
manager    -       -   -        -        -       -     -   -     -     Y          Y           -           -
marketing  Y       Y   Y        Y        Y       Y     Y   Y     Y     Y          Y           -           -
service    -       -   -        -        -       -     -   -     -     Y          Y           -           -
admin      Y       Y   Y        Y        Y       Y     Y   Y     Y     Y          Y           Y           Y
"""
ROLE_EXPECTED = parse_table("\n".join(
    line if not line.strip() else " ".join([line.split()[0], "relation" if line.startswith("role") else "-",
                                            line.split(None, 1)[1]]) for line in ROLE_TABLE.strip().splitlines()))
MATRIX_ACTIONS = list(ROLE_ACTIONS.values())
NOT_IN_MATRIX = {"imports.upload": "test_only_admins_and_marketing_upload (below)"}


@pytest.fixture(autouse=True)
def sync_jobs(monkeypatch):
    monkeypatch.setattr(imports, "start_job", lambda job_id: imports.run_job(job_id))


def _setup(world):
    """Three jobs of the marketing user: one checked, one waiting for its mapping, one stopped in its check."""
    uploader = world.users["marketing"]
    job = imports.create_job(uploader, "a.csv", SHEET)
    imports.check_job(uploader, job, {"col_0": "name", "col_1": "city"})
    imports.run_job(job.id)
    fresh = imports.create_job(uploader, "b.csv", SHEET)
    failed = imports.create_job(uploader, "c.csv", SHEET)
    ImportJob.update(state="failed", mapping={"0": "name"}, error={"message": "x", "params": {}, "phase": "checking"}
                     ).where(ImportJob.id == failed.id).execute()
    return {"job": job.id, "fresh": fresh.id, "failed": failed.id}


@pytest.mark.parametrize("role,action", [(role, action) for role in ROLES for action in ROLE_ACTIONS])
def test_import_and_export_routes(client, world, role, action):
    ids = _setup(world)
    client.login(world.users[ACTOR[role]])
    check_action(client, ROLE_ACTIONS[action], ids, allowed=ROLE_EXPECTED[(role, "-")][action] == "Y")


@pytest.mark.parametrize("role", ROLES)
def test_only_admins_and_marketing_upload(client, world, role):
    client.login(world.users[ACTOR[role]])
    r = client.post("/imports", {"file": (io.BytesIO(SHEET), "a.csv")}, content_type="multipart/form-data")
    assert (r.status_code, ImportJob.select().count()) == ((303, 1) if role in ("marketing", "admin") else (404, 0))


def test_tables_are_complete():
    assert {role for role, _ in ROLE_EXPECTED} == set(ROLES)
    assert all(set(row) == set(ROLE_ACTIONS) for row in ROLE_EXPECTED.values())
