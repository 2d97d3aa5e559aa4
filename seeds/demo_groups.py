"""Demo scenes for issue 17 items 5–7: a contact who changed job, a group page, completeness by business model.

- 恒源集团 (a group): three of rep001's key accounts and one of another rep's files, rep001 the group's owner (the
  page lists that other file as "outside the group's owner"); the one-owner policy stays off in the demo (the
  generated groups mix owners), an admin turns it on in the pool rules.
- A decision maker of one of rep001's files (visited twice) changed job to another of rep001's files through the
  verb: the old file's tree shows the gap, the new file's contact says where they came from.
- Admin weights: key accounts weigh the decision-maker tree, project sales the project data; recomputed set-based.
- The completeness trend: today's snapshot through `completeness.snapshot`, and twelve weekly points before it
  derived from today's figures (a slow climb of about one point a week), since the demo has no past of its own.
"""
import datetime as dt

from models import clock
from models import completeness as cm
from models import settings
from models.customer_tables import Contact, Customer, CustomerGroup
from models.customers import log_follow_up, save_contact
from models.job_changes import change_job
from models.users import User

GROUP = "恒源集团"


def stage(say=None):
    say = say or (lambda msg: None)
    admin = User.get(User.username == "admin")
    rep = User.get_or_none(User.username == "rep001")
    if rep is None:
        return
    _group(rep)
    _job_change(rep)
    cm.save_weights(admin, "key_account", {**{"w_" + k: str(w) for k, w in cm.current("key_account")[0].items()},
                                           "w_decision_tree": "20"})
    cm.save_weights(admin, "project", {**{"w_" + k: str(w) for k, w in cm.current("project")[0].items()},
                                       "w_project": "20"})
    for job in list(settings.pending_jobs()):
        settings.advance(job)
    _trend()
    say("groups, a job change and completeness weights")


def _group(rep):
    mine = list(Customer.select().where((Customer.owner == rep.id) & (Customer.business_model == "key_account"))
                .order_by(Customer.id).limit(3))
    if len(mine) < 3:
        mine = list(Customer.select().where(Customer.owner == rep.id).order_by(Customer.id).limit(3))
    other = Customer.select().where(Customer.owner.is_null(False) & (Customer.owner != rep.id)
                                    & (Customer.business_model == "key_account")).order_by(Customer.id).first()
    group = CustomerGroup.create(name=GROUP, owner=rep.id)
    ids = [c.id for c in mine] + ([other.id] if other else [])
    Customer.update(group=group.id).where(Customer.id.in_(ids)).execute()


def _job_change(rep):
    files = list(Customer.select().where((Customer.owner == rep.id) & (Customer.group.is_null()))
                 .order_by(Customer.id).limit(2))
    if len(files) < 2:
        return
    old, new = files
    boss = save_contact(rep, old, {"name": "周振华", "title": "总经理", "decision_role": "decision_maker",
                                   "mobile": "13757120086"})
    save_contact(rep, old, {"name": "吴采购", "title": "采购主管", "decision_role": "buyer",
                            "reports_to_id": str(boss.id)})
    for text in ("拜访周总，介绍今年新到的精纺羊毛面料，周总对价格敏感，要求下周报价",
                 "电话跟周总确认报价单，对方同意先下一批样品订单，月底前签约"):
        log_follow_up(rep, old, {"type": "visit", "content": text, "contact_id": str(boss.id),
                                 "at": clock.to_local(clock.now() - dt.timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M")})
    change_job(rep, Contact.get_by_id(boss.id), {"customer_id": str(new.id), "title": "副总经理",
                                                 "decision_role": "decision_maker"})


def _trend():
    today = clock.to_local(clock.now()).date()
    cm.snapshot()
    now_rows = list(cm.CompletenessDaily.select().where(cm.CompletenessDaily.day == today))
    past = []
    for week in range(1, 13):
        day = today - dt.timedelta(days=7 * week)
        for r in now_rows:
            past.append({"day": day, "owner": r.owner, "team": r.team, "customers": r.customers,
                         "total": max(0, r.total - r.customers * week)})
    for i in range(0, len(past), 500):
        cm.CompletenessDaily.insert_many(past[i:i + 500]).execute()
