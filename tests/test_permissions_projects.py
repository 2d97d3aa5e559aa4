"""Permission matrix of projects and documents: who (by their relation to the project) × action over
HTTP. The project team, the customer's owner and team manager and admins see and work a project; the
team manager (never on their own proposal) and admins decide it and staff it, with the project manager;
everyone else gets a 404 and nothing is written. Documents follow what they are attached to."""
import io

import pytest
from peewee import fn

from models import documents as docs
from models import projects as pj
from models.opportunities import Opportunity
from models.users import Team
from tests.conftest import FROZEN
from tests.test_permissions import Action, check_action, db_state

PDF = b"%PDF-1.4\n% matrix\n%%EOF\n"


def gone(query):
    """A query that has a row exactly when `query` has none (the effect of a removal)."""
    return pj.ApprovalCriterion.select().where(~fn.EXISTS(query)).limit(1)


def _upload(fields=None):
    return {"__file__": ("矩阵.pdf", PDF), "kind": "proposal", **(fields or {})}


PROJECT_ACTIONS = {
    "view": Action("GET", "/projects/{p}"),
    "milestone_new": Action("POST", "/projects/{p}/milestones",
                            {"name": "矩阵里程碑", "owner_id": "{rep}", "due_on": "2026-12-20"}, "milestone.added",
                            lambda i: pj.Milestone.select().where(pj.Milestone.name == "矩阵里程碑")),
    "milestone_edit_form": Action("GET", "/projects/{p}/milestones/{m}/edit"),
    "milestone_edit": Action("POST", "/projects/{p}/milestones/{m}/edit",
                             {"name": "改名的里程碑", "owner_id": "{rep}", "due_on": "2026-12-10", "status": "planned"},
                             "milestone.updated", lambda i: pj.Milestone.select().where(pj.Milestone.name == "改名的里程碑")),
    "milestone_status": Action("POST", "/projects/{p}/milestones/{m}/status", {"status": "in_progress"},
                               "milestone.status_changed",
                               lambda i: pj.Milestone.select().where((pj.Milestone.id == i["m"])
                                                                     & (pj.Milestone.status == "in_progress"))),
    "cost_new": Action("POST", "/projects/{p}/costs", {"kind": "actual", "category": "travel", "amount": "888"},
                       "project.cost_added", lambda i: pj.ProjectCost.select().where(pj.ProjectCost.amount == 888)),
    "cost_remove": Action("POST", "/projects/{p}/costs/{cost}/remove", {}, "project.cost_removed",
                          lambda i: gone(pj.ProjectCost.select().where(pj.ProjectCost.id == i["cost"]))),
    "document_upload": Action("POST", "/projects/{p}/documents", _upload(), "document.uploaded",
                              lambda i: docs.Document.select().where((docs.Document.title == "矩阵")
                                                                     & (docs.Document.project == i["p"]))),
    "document_version": Action("POST", "/documents/{d}/versions", _upload(), "document.version_uploaded",
                               lambda i: docs.DocumentVersion.select().where(docs.DocumentVersion.number == 2)),
    "document_download": Action("GET", "/documents/{d}/download"),
    "document_download_version": Action("GET", "/documents/{d}/versions/1/download"),
    "member_add": Action("POST", "/projects/{p}/members", {"user_id": "{outsider}", "role": "consultant"},
                         "project.member_added",
                         lambda i: pj.ProjectMember.select().where(pj.ProjectMember.user == i["outsider"])),
    "member_remove": Action("POST", "/projects/{p}/members/{spare}/remove", {}, "project.member_removed",
                            lambda i: gone(pj.ProjectMember.select().where(pj.ProjectMember.id == i["spare"]))),
    "contract": Action("POST", "/projects/{p}/contract",
                       {"contract_amount": "900000", "contract_signed_on": "2026-11-20", "contract_start": "2026-12-01",
                        "contract_end": "2027-11-30"}, "project.contract_signed",
                       lambda i: pj.Project.select().where(pj.Project.contract_amount == 900000)),
    "decide": Action("POST", "/projects/{pending}/decide", {"decision": "approve", "reason": "同意立项"},
                     "project.approved",
                     lambda i: pj.Project.select().where((pj.Project.id == i["pending"]) & (pj.Project.status == "approved"))),
    # on the customer (a project-sales customer of rep_a in team A)
    "propose_form": Action("GET", "/customers/{c}/projects/new"),
    "propose": Action("POST", "/customers/{c}/projects/new", {"name": "矩阵新项目", "__answers__": "yes"},
                      "project.proposed", lambda i: pj.Project.select().where(pj.Project.name == "矩阵新项目")),
    "customer_upload": Action("POST", "/customers/{c}/documents", _upload(), "document.uploaded",
                              lambda i: docs.Document.select().where(docs.Document.project.is_null()
                                                                     & (docs.Document.title == "矩阵"))),
    "customer_download": Action("GET", "/documents/{cd}/download"),
    "opportunity_documents": Action("GET", "/opportunities/{o}/documents"),
    "opportunity_upload": Action("POST", "/opportunities/{o}/documents", _upload(), "document.uploaded",
                                 lambda i: docs.Document.select().where(docs.Document.opportunity == i["o"])),
    # everyone / admins
    "list": Action("GET", "/projects"),
    "criteria": Action("GET", "/admin/project-criteria"),
    "criterion_new": Action("POST", "/admin/project-criteria", {"text_zh": "竞争对手已知", "text_en": "Competitors known",
                                                               "active": "1"}, "project.criterion_created",
                            lambda i: pj.ApprovalCriterion.select().where(pj.ApprovalCriterion.text_en == "Competitors known")),
    "criterion_edit": Action("POST", "/admin/project-criteria/{crit}", {"text_zh": "预算已批", "text_en": "Budget approved",
                                                                       "active": "1"}, "project.criterion_updated",
                             lambda i: pj.ApprovalCriterion.select().where(pj.ApprovalCriterion.text_en == "Budget approved")),
}
MATRIX_ACTIONS = list(PROJECT_ACTIONS.values())

# Who, by their relation to the project "P" (approved; customer of rep_a in team A; rep_pm of team B is its
# project manager, the engineer (a service user) a member):
#   requester   rep_a: proposed P, owns its customer       team_mgr   mgr_a: manages the customer's team
#   pm          rep_pm: P's project manager (other team)    member     engineer: on P's team (service role)
#   same_team   rep_a2: same team, not on P                 other_mgr  mgr_b / other_rep rep_b: team B
TABLE = """
who         view ms_new ms_form ms_edit ms_status cost_new cost_rm doc_up doc_ver doc_dl doc_dl1 mem_add mem_rm contract decide propose_form propose cust_up cust_dl opp_docs opp_up list criteria crit_new crit_edit
requester   Y    Y      Y       Y       Y         Y        Y       Y      Y       Y      Y       -       -      Y        -      Y            Y       Y       Y       Y        Y      Y    -        -        -
team_mgr    Y    Y      Y       Y       Y         Y        Y       Y      Y       Y      Y       Y       Y      Y        Y      Y            Y       Y       Y       Y        Y      Y    -        -        -
pm          Y    Y      Y       Y       Y         Y        Y       Y      Y       Y      Y       Y       Y      Y        -      -            -       -       -       -        -      Y    -        -        -
member      Y    Y      Y       Y       Y         Y        Y       Y      Y       Y      Y       -       -      -        -      -            -       -       Y       Y        -      Y    -        -        -
same_team   -    -      -       -       -         -        -       -      -       -      -       -       -      -        -      -            -       -       -       -        -      Y    -        -        -
other_mgr   -    -      -       -       -         -        -       -      -       -      -       -       -      -        -      -            -       -       -       -        -      Y    -        -        -
other_rep   -    -      -       -       -         -        -       -      -       -      -       -       -      -        -      -            -       -       -       -        -      Y    -        -        -
marketing   -    -      -       -       -         -        -       -      -       -      -       -       -      -        -      -            -       -       -       -        -      Y    -        -        -
admin       Y    Y      Y       Y       Y         Y        Y       Y      Y       Y      Y       Y       Y      Y        Y      Y            Y       Y       Y       Y        Y      Y    Y        Y        Y
"""
COLUMNS = dict(zip(
    "view ms_new ms_form ms_edit ms_status cost_new cost_rm doc_up doc_ver doc_dl doc_dl1 mem_add mem_rm contract decide "
    "propose_form propose cust_up cust_dl opp_docs opp_up list criteria crit_new crit_edit".split(), PROJECT_ACTIONS))
WHO = {"requester": "rep_a", "team_mgr": "mgr_a", "pm": "rep_pm", "member": "engineer", "same_team": "rep_a2",
       "other_mgr": "mgr_b", "other_rep": "rep_b", "marketing": "marketing", "admin": "admin"}


def expected():
    lines = [line.split() for line in TABLE.strip().splitlines()]
    header = lines[0][1:]
    return {row[0]: {COLUMNS[h]: mark == "Y" for h, mark in zip(header, row[1:])} for row in lines[1:]}


EXPECTED = expected()


@pytest.fixture
def pworld(app, make_user, make_team, make_customer):
    team_a, team_b = make_team("矩阵一组"), make_team("矩阵二组")
    u = {"rep_a": make_user("sales", team_a), "rep_a2": make_user("sales", team_a), "mgr_a": make_user("manager", team_a),
         "rep_b": make_user("sales", team_b), "rep_pm": make_user("sales", team_b), "mgr_b": make_user("manager", team_b),
         "engineer": make_user("service"), "spare": make_user("service"), "outsider": make_user("service"),
         "marketing": make_user("marketing"), "admin": make_user("admin")}
    Team.update(manager=u["mgr_a"]).where(Team.id == team_a.id).execute()
    Team.update(manager=u["mgr_b"]).where(Team.id == team_b.id).execute()
    customer = make_customer(owner=u["rep_a"], name="苏州矩阵系统集成有限公司", business_model="project")
    criteria = pj.active_criteria()
    yes = {f"answer_{c.id}": "yes" for c in criteria}
    project = pj.propose_project(u["rep_a"], customer, {"name": "矩阵项目", "budget": "1000000", **yes})
    pj.decide_project(u["mgr_a"], project, True, "同意")
    pending = pj.propose_project(u["rep_a"], customer, {"name": "待批项目", **yes})
    for key, role in (("rep_pm", "project_manager"), ("engineer", "engineer"), ("spare", "consultant")):
        pj.add_member(u["admin"], project, {"user_id": str(u[key].id), "role": role})
    m = pj.save_milestone(u["rep_a"], project, {"name": "蓝图", "owner_id": str(u["rep_a"].id), "due_on": "2026-12-05"})
    cost = pj.add_cost(u["rep_a"], project, {"kind": "planned", "category": "labour", "amount": "1000"})
    storage = app.instance_path + "/documents"
    d = docs.upload_document(u["rep_a"], storage, io.BytesIO(PDF), "项目文档.pdf", {"kind": "proposal"}, project=project)
    cd = docs.upload_document(u["rep_a"], storage, io.BytesIO(PDF), "客户文档.pdf", {"kind": "other"}, customer=customer)
    opp = Opportunity.create(customer=customer, owner=u["rep_a"], team=team_a, name="矩阵商机", amount=100000,
                             probability=50, stage="presentation", expected_close="2027-01-31", created_at=FROZEN,
                             updated_at=FROZEN, stage_changed_at=FROZEN, created_by=u["rep_a"])
    spare = pj.ProjectMember.get((pj.ProjectMember.user == u["spare"].id))
    ids = {"p": project.id, "pending": pending.id, "m": m.id, "cost": cost.id, "d": d.id, "cd": cd.id, "o": opp.id,
           "c": customer.id, "rep": u["rep_a"].id, "outsider": u["outsider"].id, "spare": spare.id,
           "crit": criteria[0].id, "criteria": [c.id for c in criteria]}
    return u, ids


class MatrixClient:
    """Fills the matrix's special fields: a fresh file for every request, the criteria answers."""

    def __init__(self, client, ids):
        self.client, self.ids = client, ids

    def _data(self, data):
        data = dict(data or {})
        if "__file__" in data:
            name, content = data.pop("__file__")
            data["file"] = (io.BytesIO(content), name)
        if data.pop("__answers__", None):
            data.update({f"answer_{c}": "yes" for c in self.ids["criteria"]})
        return data

    def get(self, url, htmx=False):
        return self.client.get(url, htmx=htmx)

    def post(self, url, data=None, htmx=False, csrf=True):
        data = self._data(data)
        kw = {"content_type": "multipart/form-data"} if "file" in data else {}
        return self.client.post(url, data, htmx=htmx, csrf=csrf, **kw)


@pytest.mark.parametrize("who,action", [(who, action) for who in EXPECTED for action in PROJECT_ACTIONS])
def test_project_routes(client, pworld, who, action):
    users, ids = pworld
    client.login(users[WHO[who]])
    check_action(MatrixClient(client, ids), PROJECT_ACTIONS[action], ids, allowed=EXPECTED[who][action])


def test_the_table_covers_every_action():
    assert set(COLUMNS.values()) == set(PROJECT_ACTIONS)
    assert set(EXPECTED) == set(WHO)


def test_project_lists_and_tabs_show_only_visible_projects(client, pworld):
    users, ids = pworld
    for who, sees in (("rep_a", True), ("mgr_a", True), ("rep_pm", True), ("engineer", True), ("rep_a2", False),
                      ("rep_b", False), ("mgr_b", False), ("marketing", False), ("admin", True)):
        client.login(users[who])
        text = client.get("/projects?scope=all").get_data(as_text=True) + client.get(
            "/projects?scope=team").get_data(as_text=True) + client.get("/projects").get_data(as_text=True)
        assert ("矩阵项目" in text) == sees, who
        home = client.get("/").get_data(as_text=True)
        assert "矩阵项目" not in home or sees, who


def test_a_deactivated_member_loses_the_project(client, pworld):
    users, ids = pworld
    client.login(users["engineer"])
    assert client.get(f"/projects/{ids['p']}").status_code == 200
    from models.users import User
    User.update(active=False).where(User.id == users["engineer"].id).execute()
    before = db_state()
    assert client.get(f"/projects/{ids['p']}").status_code in (302, 303)
    assert db_state() == before
