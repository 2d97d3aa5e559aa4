"""Demo scenes for data quality (issue 17 items 1–3).

A quality checker (login `quality`, a service agent given the "quality" permission) and the quality rule v1.
Some of rep002's files are made to trip the directed rules (follow-ups all at the minimum length, a phone
also on another team's customer, contacts without any phone, a promotion with no follow-up); the nightly
rules then make the directed check list, and this month's random sample adds two files per rep of team 1.
The checker has worked three of rep002's checks (true, incomplete, false) and rep002 answered one;
manager01 has filed a complaint about a file in the pool that waits in the queue. The rule turned rep002's
findings into a consequence shown on their quality page.
"""
import datetime as dt

from models import clock, customers, db
from models import quality as qm
from models.customer_tables import Contact, Customer, FollowUp
from models.quality_tables import QualityCheck
from models.users import Team, User, hash_password
from seeds.demo import PASSWORD

SHORT = "电话沟通，客户表示近期暂无采购计划再联系"  # just over the valid minimum, every time


def stage(say=None):
    say = say or (lambda msg: None)
    now = clock.now()
    admin = User.get(User.username == "admin")
    checker = User.create(username="quality", full_name="质检 孙琳", email="quality@example.com",
                          password_hash=hash_password(PASSWORD), role="service", grants="quality",
                          language="zh_CN", created_at=now)
    settings = qm.validate_settings({k: str(v) for k, v in qm.DEFAULTS.items() if k != "rules"}
                                    | {"rules": list(qm.DEFAULTS["rules"])})
    row = qm.save_rule(admin, {**settings, "reward_from": 95, "warning_below": 90, "penalty_below": 80}, now,
                     note="首版质检规则")
    qm.QualityRule.update(effective_from=now - dt.timedelta(days=30)).where(qm.QualityRule.id == row.id).execute()
    rep = User.get_or_none(User.username == "rep002")
    if rep is None:
        return
    old = now - dt.timedelta(days=30)
    files = list(Customer.select().where((Customer.owner == rep.id) & (Customer.created_at <= old))
                 .order_by(Customer.id).limit(20))
    other = Customer.select().where(Customer.owner.is_null(False) & (Customer.team != rep.team_id)
                                    & (Customer.phone_norm != "")).first()
    with db.atomic():
        quiet = [c for c in files if not FollowUp.select().where(
            (FollowUp.customer == c.id) & (FollowUp.at >= now - dt.timedelta(days=90))).exists()]
        for i, c in enumerate(quiet[:2]):  # follow-ups that always just clear the minimum length
            for d in (3, 10, 17):
                FollowUp.create(customer=c.id, author=rep.id, type="call", at=now - dt.timedelta(days=d + i, hours=2),
                                content=SHORT, created_at=now - dt.timedelta(days=d + i, hours=2), is_valid=True)
        phoned = [c for c in files[2:] if c.phone_norm]
        if other is not None and phoned:  # a phone that is also another team's customer's
            Customer.update(phone=other.phone, phone_norm=other.phone_norm).where(Customer.id == phoned[0].id).execute()
    # a file with no contact gets one without any phone (through the verb: completeness stays in step)
    for c in [c for c in files[2:] if not Contact.select().where(Contact.customer == c.id).exists()][:2]:
        customers.save_contact(rep, c, {"name": "刘经理", "title": "采购"})
    # promoted to intent by its owner with no follow-up in the week before
    week = now - dt.timedelta(days=qm.DEFAULTS["promotion_days"])
    for c in files:
        if c.stage == "target" and not FollowUp.select().where((FollowUp.customer == c.id) & (FollowUp.at >= week)).exists():
            customers.change_stage(rep, Customer.get_by_id(c.id), "intent")
            break
    created = qm.evaluate_rules(now)
    team = Team.get_or_none(Team.id == rep.team_id)
    qm.draw_sample(checker, clock.to_local(now).strftime("%Y-%m"), 2, team_id=team.id if team else None, seed=20261201)
    worked = list(QualityCheck.select().where((QualityCheck.owner == rep.id) & (QualityCheck.source == "rule"))
                  .order_by(QualityCheck.id).limit(3))
    verdicts = [("true", [], "致电联系人核实，跟进内容与实际沟通一致。"),
                ("incomplete", ["contacts", "contact_phone"], "联系人只有姓名，致电总机才找到采购经理的手机。"),
                ("false", ["phone"], "拨打档案电话，接听的是另一家公司的前台。")]
    for check, (outcome, fields, evidence) in zip(worked, verdicts):
        qm.record_outcome(checker, check, outcome, fields, evidence)
    if len(worked) == 3:
        qm.respond_check(rep, QualityCheck.get_by_id(worked[2].id), "已更正为客户官网上的总机号码。")
    manager = User.get_or_none(User.username == "manager01")
    pooled = Customer.select().where(Customer.owner.is_null() & Customer.pool.is_null(False)
                                     & Customer.released_from.is_null(False)).first()
    if manager is not None and pooled is not None and qm.can_complain(manager, pooled):
        qm.file_complaint(manager, pooled, "contacts", "联系人“王总”已离职两年，档案仍写是决策人。",
                          "11 月致电该公司前台确认。")
    say(f"data quality: {created} directed checks, a sample, 3 worked checks")
