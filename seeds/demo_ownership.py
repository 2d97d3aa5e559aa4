"""Demo scenes for transfers (工作转移), staged through the verbs: manager01 finds a transfer waiting in the
approvals inbox (a rep of the team hands three customers to a colleague), and the ledger and timelines
already hold a transfer the manager approved last week."""
import datetime as dt

from models import clock, transfers
from models.customers import Customer
from models.users import User


def _team_reps(manager):
    return list(User.select().where((User.team == manager.team_id) & (User.role == "sales") & (User.active == True))  # noqa: E712
                .order_by(User.username))


def _free_customers(rep, n):
    """Plain owned customers of `rep`: not locked, not dealt, in no transfer yet."""
    busy = transfers.TransferItem.select(transfers.TransferItem.customer)
    return [c.id for c in Customer.select(Customer.id).where(
        (Customer.owner == rep.id) & (Customer.locked == False) & Customer.stage.in_(("target", "intent"))  # noqa: E712
        & Customer.id.not_in(busy)).order_by(Customer.id).limit(n)]


def stage(progress=None):
    say = progress or (lambda msg: None)
    manager = User.get(User.username == "manager01")
    reps = _team_reps(manager)
    if len(reps) < 6:
        return
    # Approved last week: rep006 handed two customers to rep007 (same team, the release clock kept running).
    giver, taker = reps[5], reps[6] if len(reps) > 6 else reps[4]
    done = transfers.request_transfer(giver, giver, [(cid, f"u:{taker.id}") for cid in _free_customers(giver, 2)],
                                      "客户都在苏州工业园区，交给常驻苏州的同事就近拜访",
                                      now=clock.now() - dt.timedelta(days=6))
    approval = transfers.TransferApproval.get(transfers.TransferApproval.transfer == done.id)
    transfers.decide_transfer(manager, approval.id, True, "同意：就近服务，跟进更及时",
                              now=clock.now() - dt.timedelta(days=5))
    # Waiting for manager01: rep004 asks to hand three customers to rep005.
    giver, taker = reps[3], reps[4]
    pending = transfers.request_transfer(giver, giver, [(cid, f"u:{taker.id}") for cid in _free_customers(giver, 3)],
                                         "下月起转做重点客户项目，这三家日常订货客户交给同组同事跟进")
    say(f"demo data: transfers staged (#{done.id} done, #{pending.id} waiting for manager01)")
