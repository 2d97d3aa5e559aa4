"""Demo scenes for appeals and undo (issue 20 item 2), staged through the verbs:

- rep001: one forced release appealed and upheld by manager01 (back with its original clock, the ledger says
  both dates), one appealed and rejected, and one released just now that rep001 may still appeal (its page
  shows the appeal card);
- rep003: an appeal waiting on manager01's /approvals, the customer held out of the pool meanwhile (the admin's
  undo of that release was refused for it: the ledger says why);
- rep005: two forced releases undone by the admin ("wrong rule version"), listed on /admin/releases;
- a conflict case in team 1 ruled for rep002 with a 70/30 credit split, appealed by rep001 within the window
  (waiting for manager01).
"""
import datetime as dt

from models import appeals, clock, conflicts, pools, rules as rules_mod
from models.customers import Customer
from models.ledger import PoolEvent
from models.users import User


def _user(username):
    return User.get_or_none(User.username == username)


def _forced(customer):
    """A forced release now, worded like the sweep's."""
    rules = rules_mod.in_force()
    _at, rule, inputs = pools.release_plan(customer, rules, clock.now())
    if rule not in ("no_followup", "no_deal"):
        rule, inputs = "no_followup", {"since": str(customer.claimed_at or customer.created_at), "days": 15,
                                       "rule_version": rules.version}
    pools.release_customer(None, customer, pools._release_reason(rule, inputs), kind="forced_release", rules=rules,
                           inputs={**inputs, "rule": rule})
    return PoolEvent.select().where((PoolEvent.customer == customer.id) & (PoolEvent.kind == "forced_release")) \
        .order_by(PoolEvent.id.desc()).first()


def _owned(rep, n, skip=()):
    """`n` of the rep's customers claimed weeks ago (their clocks have a history worth restoring)."""
    weeks_ago = clock.now() - dt.timedelta(days=20)
    return list(Customer.select().where((Customer.owner == rep.id) & (Customer.locked == False)  # noqa: E712
                                        & Customer.stage.not_in(("signed", "long_term")) & (Customer.claimed_at < weeks_ago)
                                        & Customer.id.not_in(list(skip) or [0]))
                .order_by(Customer.id).limit(n))


def stage(progress=None):
    say = progress or (lambda msg: None)
    rep1, rep2, rep3, rep5 = _user("rep001"), _user("rep002"), _user("rep003"), _user("rep005")
    manager, admin = _user("manager01"), _user("admin")
    if not all((rep1, rep2, rep3, rep5, manager, admin)):
        return
    upheld, rejected, fresh = _owned(rep1, 3)
    ev = _forced(upheld)
    appeal = appeals.appeal_release(rep1, ev.id, "11月中旬已上门拜访，跟进记录补录在纸质日志上，系统漏登")
    appeals.decide_appeal(manager, appeal.id, True, "核对了拜访签到记录，确有有效跟进，恢复原时钟")
    ev = _forced(rejected)
    appeal = appeals.appeal_release(rep1, ev.id, "客户说年后可能有需求，希望保留")
    appeals.decide_appeal(manager, appeal.id, False, "两个月没有有效跟进，规则适用，驳回")
    _forced(fresh)

    waiting = _owned(rep3, 1)[0]
    ev = _forced(waiting)
    appeals.appeal_release(rep3, ev.id, "客户上周来电确认下单意向，电话记录还在手机上")
    appeals.undo_releases(admin, [ev.id], "规则 v%s 的未跟进天数误设" % rules_mod.in_force().version)

    events = [_forced(c).id for c in _owned(rep5, 2)]
    appeals.undo_releases(admin, events, "规则版本配置错误：未跟进天数被误设为 5 天")

    disputed = _owned(rep1, 1, skip=[upheld.id])
    if disputed:
        case = conflicts.open_case(rep2, disputed[0].id, "展会上先和客户老板谈过合作，名片和照片都在，应由我跟进",
                                   seen={"name": disputed[0].name})
        conflicts.rule_case(manager, case.id, "claimant", "双方都有有效接触，展会接触在先；按 70/30 分成",
                            split="70")
        appeals.appeal_ruling(rep1, case.id, "我在展会前一个月已经电话联系过采购经理，有通话记录")
    say("demo data: appeals upheld, rejected and waiting; forced releases undone; a 70/30 credit split appealed")
