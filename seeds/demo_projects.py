"""Demo scenes for project sales (立项, 里程碑, 文档, 成本): staged through the verbs of models/projects.py
and models/documents.py on rep001's project-sales customers.

manager01 finds two proposals waiting in the approvals inbox; rep001 has an approved project under
contract with its team, milestones done, due in two days and overdue (on the workbench), costs against
the contract and documents with versions; another approved project without a contract yet, and one
rejected proposal. Deterministic, and quick (a few dozen verb calls).
"""
import datetime as dt
import io
from pathlib import Path

from models import clock
from models import documents as docs
from models import projects as pj
from models.customers import Customer
from models.users import User

DAY = dt.timedelta(days=1)


def _user(username):
    return User.get(User.username == username)


def _storage():
    try:
        from flask import current_app
        return Path(current_app.instance_path) / "documents"
    except RuntimeError:  # outside a request or app context (the CLI's demo load)
        from app import INSTANCE
        return INSTANCE / "documents"


def pdf_bytes(lines):
    """A small, valid one-page PDF showing `lines` (ASCII), built by hand: no PDF library needed."""
    text = "BT /F1 12 Tf 72 760 Td 16 TL " + " ".join(f"({line}) Tj T*" for line in lines) + " ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        "/Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(text)} >>\nstream\n{text}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = io.BytesIO(), []
    out.write(b"%PDF-1.4\n")
    for i, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(f"{i} 0 obj\n{body}\nendobj\n".encode("latin-1"))
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for off in offsets:
        out.write(f"{off:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def _answers(criteria, pattern):
    data = {}
    for c, yes in zip(criteria, pattern):
        data[f"answer_{c.id}"] = "yes" if yes else "no"
        data[f"note_{c.id}"] = "已与客户确认" if yes else "待确认"
    return data


def _project_customers(rep, limit):
    """Project-sales customers the pool scenes leave alone: not locked, no contract, not releasing soon."""
    later = clock.now() + 10 * DAY
    return list(Customer.select().where((Customer.owner == rep.id) & (Customer.business_model == "project")
                                        & (Customer.locked == False) & Customer.contract_end.is_null()  # noqa: E712
                                        & Customer.staked_by.is_null()
                                        & (Customer.release_at.is_null() | (Customer.release_at > later)))
                .order_by(Customer.id.desc()).limit(limit))


def stage(progress=None):
    say = progress or (lambda msg: None)
    say("demo data: projects, milestones and documents")
    rep1, rep2, manager, service = _user("rep001"), _user("rep002"), _user("manager01"), _user("service")
    criteria = pj.active_criteria()
    today = clock.today()
    customers = _project_customers(rep1, 4)
    # a second proposer in manager01's team: rep002, or the next colleague with a project customer
    colleagues = User.select().where((User.team == rep1.team_id) & (User.role == "sales") & (User.id != rep1.id)
                                     & (User.active == True)).order_by(User.username)  # noqa: E712
    proposer, theirs = rep2, []
    for colleague in colleagues:
        theirs = _project_customers(colleague, 1)
        if theirs:
            proposer = colleague
            break
    if len(customers) < 4 or not theirs:
        say("demo data: too few project-sales customers for the project scenes")
        return
    customers += theirs
    storage = _storage()

    # 1. approved, under contract, with a team, milestones due / overdue, costs and documents
    mes = pj.propose_project(rep1, customers[0], {
        "name": "智慧工厂 MES 一期", "budget": "1,800,000", "expected_start": (today - 60 * DAY).isoformat(),
        "expected_end": (today + 150 * DAY).isoformat(),
        "description": "车间制造执行系统一期：排产、报工、质量追溯；二期再做设备联网。",
        **_answers(criteria, (True, True, True, True))})
    pj.decide_project(manager, mes, True, "预算已落实，决策人（生产副总）已见面，时间表明确")
    pj.add_member(manager, mes, {"user_id": str(rep2.id), "role": "project_manager"})
    pj.add_member(manager, mes, {"user_id": str(service.id), "role": "engineer"})
    pj.add_member(manager, mes, {"user_id": str(manager.id), "role": "consultant"})
    research = pj.save_milestone(rep1, mes, {"name": "需求调研", "owner_id": str(rep1.id), "status": "done",
                                             "start_on": (today - 55 * DAY).isoformat(),
                                             "due_on": (today - 35 * DAY).isoformat()})
    design = pj.save_milestone(rep2, mes, _ms("方案设计", rep2, today - 34 * DAY, today + 2 * DAY, "in_progress",
                                              [research.id]))
    review = pj.save_milestone(rep1, mes, _ms("蓝图评审", rep1, today - 10 * DAY, today - 3 * DAY, "planned",
                                              [research.id]))
    pilot = pj.save_milestone(rep2, mes, _ms("试点车间上线", service, today + 5 * DAY, today + 45 * DAY, "planned",
                                             [design.id, review.id]))
    pj.save_milestone(rep2, mes, _ms("全厂推广与验收", rep2, today + 46 * DAY, today + 120 * DAY, "planned", [pilot.id]))
    for kind, category, amount in (("planned", "labour", "600000"), ("planned", "software", "350000"),
                                   ("planned", "hardware", "200000"), ("planned", "travel", "60000"),
                                   ("actual", "labour", "238000"), ("actual", "travel", "21500.50"),
                                   ("actual", "software", "350000")):
        pj.add_cost(rep1, mes, {"kind": kind, "category": category, "amount": amount, "note": "演示数据"})
    pj.sign_contract(rep1, mes, {"contract_amount": "1,650,000", "contract_signed_on": (today - 40 * DAY).isoformat(),
                                 "contract_start": (today - 40 * DAY).isoformat(),
                                 "contract_end": (today + 325 * DAY).isoformat()})
    proposal = docs.upload_document(rep1, storage, io.BytesIO(pdf_bytes(["MES phase 1 proposal", "Version 1"])),
                                    "MES一期技术方案.pdf", {"title": "MES 一期技术方案", "kind": "proposal"},
                                    project=mes)
    docs.upload_version(rep2, storage, proposal, io.BytesIO(pdf_bytes(["MES phase 1 proposal", "Version 2"])),
                        "MES一期技术方案-v2.pdf", {"note": "按蓝图评审意见调整排产模块"})
    docs.upload_document(rep1, storage, io.BytesIO(pdf_bytes(["Contract MES-2026-001", "Amount 1,650,000 CNY"])),
                         "合同-MES-2026-001.pdf", {"title": "MES 一期合同", "kind": "contract"}, project=mes)
    docs.upload_document(rep1, storage, io.BytesIO("需求调研纪要\n1. 排产以订单交期为准\n2. 报工用扫码枪\n".encode()),
                         "需求调研纪要.txt", {"title": "需求调研纪要", "kind": "other"}, project=mes)

    # 2. approved, no contract yet, a milestone due this week
    wms = pj.propose_project(rep1, customers[1], {
        "name": "仓储 WMS 改造", "budget": "680000", "expected_start": (today + 10 * DAY).isoformat(),
        "expected_end": (today + 100 * DAY).isoformat(), "description": "成品仓条码化，库位管理。",
        **_answers(criteria, (True, True, False, True))})
    pj.decide_project(manager, wms, True, "时间表待定，但需求与预算明确，先立项")
    pj.save_milestone(rep1, wms, _ms("现场勘查", rep1, today + 1 * DAY, today + 4 * DAY, "planned", []))
    pj.add_cost(rep1, wms, {"kind": "planned", "category": "labour", "amount": "180000"})
    docs.upload_document(rep1, storage, io.BytesIO(pdf_bytes(["WMS quotation", "680,000 CNY"])), "WMS报价单.pdf",
                         {"title": "WMS 报价单", "kind": "quotation"}, customer=customers[1])

    # 3. waiting for manager01: two proposals (one from rep002)
    pj.propose_project(rep1, customers[2], {
        "name": "设备联网与能耗监测", "budget": "950000", "expected_start": (today + 30 * DAY).isoformat(),
        "expected_end": (today + 210 * DAY).isoformat(), "description": "覆盖 3 个车间约 120 台设备。",
        **_answers(criteria, (True, False, True, True))})
    pj.propose_project(proposer, customers[4], {
        "name": "质量追溯系统", "budget": "420000", "description": "客户希望年底前完成选型。",
        **_answers(criteria, (False, True, True, True))})

    # 4. rejected
    rejected = pj.propose_project(rep1, customers[3], {
        "name": "集团 ERP 替换", "budget": "5000000", "description": "客户集团层面的 ERP 替换，决策链很长。",
        **_answers(criteria, (False, False, False, True))})
    pj.decide_project(manager, rejected, False, "预算、决策人和时间表都不清楚，先做关系，半年后再评估")

    pj.sweep(clock.now())  # the reminders and overdue flags the server's sweep would write


def _ms(name, owner, start, due, status, deps):
    from werkzeug.datastructures import MultiDict

    form = MultiDict({"name": name, "owner_id": str(owner.id), "start_on": start.isoformat(), "due_on": due.isoformat(),
                      "status": status, "remind_days": "3"})
    for d in deps:
        form.add("depends_on", str(d))
    return form
