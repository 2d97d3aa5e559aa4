"""Time transfers (工作转移) and the leaver wizard on a large database (a copy: this script writes).

    cp /work/bench/big.db /work/bench/transfers.db
    KEHU_DATABASE_URL=sqlite:////work/bench/transfers.db KEHU_NO_BOOTSTRAP=1 .venv/bin/python app.py migrate
    .venv/bin/python benchmarks/bench_transfers.py --db /work/bench/transfers.db [--runs 7]

Set-up (bulk, on the copy): the giver (a rep of manager01's team) is given --size pool customers so that
they own about 500, and the two receiving team mates get capacity for them (+1000, a capacity adjustment).
(a) a transfer of --size customers: request_transfer + decide_transfer (the giving manager approves, the
    move runs in the approval's transaction with its ledger, audit rows and the owner_changed hooks), then
    the same back, alternating; and the approval through POST /transfers/approvals/<id>. Goal ≤ 2 s.
(b) the approvals inbox (GET /approvals) for manager01 with 20 transfers waiting, and the transfer list.
(c) the leaver wizard's proposal for the giver (prepare_leaver_plan over ~--size customers), the wizard
    page, and the leaver job carrying the plan out (chunks of 100), reported once.
"""
import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import cell, login, print_table, row, timed  # noqa: E402

from app import create_app  # noqa: E402
from models import clock, db, transfers  # noqa: E402
from models.customers import Customer  # noqa: E402
from models.pools import CapacityAdjustment  # noqa: E402
from models.users import User  # noqa: E402

BIG = "/work/bench/big.db"


def say(text):
    print(f"  {text}", file=sys.stderr, flush=True)


def ms(started):
    return (time.perf_counter() - started) * 1000


def setup(size):
    manager = User.get(User.username == "manager01")
    reps = list(User.select().where((User.team == manager.team_id) & (User.role == "sales") & (User.active == True))  # noqa: E712
                .order_by(User.username))
    giver, taker, other = reps[-1], reps[-2], reps[-3]
    now = clock.now()
    for waiting in transfers.Transfer.select().where(transfers.Transfer.status.in_(("pending", "draft", "failed"))):
        transfers.Transfer.delete().where(transfers.Transfer.id == waiting.id).execute()  # an earlier run's leftovers
    with db.atomic():
        owned = Customer.select().where(Customer.owner == giver.id).count()
        if owned < size:
            extra = [c.id for c in Customer.select(Customer.id).where(Customer.owner.is_null() & Customer.pool.is_null(False))
                     .order_by(Customer.id.desc()).limit(size - owned)]
            Customer.update(owner=giver.id, team=giver.team_id, pool=None, claimed_at=now, updated_at=now).where(
                Customer.id.in_(extra)).execute()
        for rep in (giver, taker, other):
            if not CapacityAdjustment.select().where((CapacityAdjustment.user == rep.id)
                                                     & (CapacityAdjustment.reason == "benchmark")).exists():
                CapacityAdjustment.create(user=rep, delta=1000, starts_at=now, ends_at=None, reason="benchmark",
                                          actor=manager, created_at=now)
    return manager, giver, taker, other


def transfer_once(manager, giver, taker, size):
    ids = [c.id for c in Customer.select(Customer.id).where(Customer.owner == giver.id).order_by(Customer.id).limit(size)]
    started = time.perf_counter()
    t = transfers.request_transfer(giver, giver, [(cid, f"u:{taker.id}") for cid in ids], "基准测试：整组客户转交")
    requested = ms(started)
    approval = transfers.TransferApproval.get(transfers.TransferApproval.transfer == t.id)
    started = time.perf_counter()
    done = transfers.decide_transfer(manager, approval.id, True, "同意")
    approved = ms(started)
    assert done.status == "done" and done.done == len(ids), (done.status, done.done)
    return requested, approved, len(ids)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", required=True)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--size", type=int, default=500)
    args = parser.parse_args(argv)
    if Path(args.db).resolve() == Path(BIG).resolve():
        sys.exit("this benchmark writes: run it on a copy of big.db, never on big.db itself")
    app = create_app({"DATABASE_URL": f"sqlite:///{args.db}", "WTF_CSRF_ENABLED": False, "TESTING": True,
                      "SECRET_KEY": "benchmark"})
    rows = []
    with app.app_context():
        db.connect(reuse_if_open=True)
        manager, giver, taker, other = setup(args.size)
        say(f"giver {giver.username} owns {Customer.select().where(Customer.owner == giver.id).count()} customers")

        # (a) a transfer of `size` customers, there and back
        req, appr, total, n = [], [], [], 0
        pair = [(giver, taker), (taker, giver)]
        for run in range(args.runs):
            src, dst = pair[run % 2]
            r, a, n = transfer_once(manager, src, dst, args.size)
            req.append(r), appr.append(a), total.append(r + a)
            say(f"{cell(f'transfer of {n}: request + approve', 40)} {r:8.1f} + {a:8.1f} ms")
        rows.append(row(f"(a) request_transfer, {n} customers", req, {"ok": len(req)}))
        rows.append(row(f"(a) decide_transfer (approve = move), {n} customers", appr, {"ok": len(appr)}))
        rows.append(row(f"(a) request + approve, {n} customers (goal ≤ 2000 ms)", total, {"ok": len(total)}))
        # the approval over HTTP (the inbox's htmx POST)
        client = login(app, manager.username)
        http = []
        for run in range(max(3, args.runs // 2)):
            src, dst = pair[(args.runs + run) % 2]
            ids = [c.id for c in Customer.select(Customer.id).where(Customer.owner == src.id).limit(args.size)]
            t = transfers.request_transfer(src, src, [(cid, f"u:{dst.id}") for cid in ids], "基准测试")
            approval = transfers.TransferApproval.get(transfers.TransferApproval.transfer == t.id)
            started = time.perf_counter()
            response = client.post(f"/transfers/approvals/{approval.id}", data={"decision": "approve", "reason": "同意"},
                                   headers={"HX-Request": "true"})
            http.append(ms(started))
            assert response.status_code == 200 and transfers.Transfer.get_by_id(t.id).status == "done"
        rows.append(row(f"(a) POST /transfers/approvals/<id>, {args.size} customers", http, {200: len(http)}))

        # (b) the inbox with 20 transfers waiting (one customer each)
        src = giver if Customer.select().where(Customer.owner == giver.id).count() >= 20 else taker
        for cid in [c.id for c in Customer.select(Customer.id).where(Customer.owner == src.id).limit(20)]:
            transfers.request_transfer(src, src, [(cid, f"u:{other.id}")], "基准测试：待审批")
        for url in ("/approvals", "/transfers/"):
            times, statuses = timed(client, url, False, args.runs * 3)
            rows.append(row(f"(b) GET {url} (manager01, 20 waiting)", times, statuses))
        badge, statuses = timed(client, "/notifications/badge", True, args.runs * 3)
        rows.append(row("(b) GET /notifications/badge (header count)", badge, statuses))

        # (c) the leaver wizard for the rep who now holds the book
        holder = max((giver, taker), key=lambda u: Customer.select().where(Customer.owner == u.id).count())
        held = Customer.select().where(Customer.owner == holder.id).count()
        admin = User.get(User.username == "admin")
        for waiting in transfers.Transfer.select().where(transfers.Transfer.status == "pending"):  # (b)'s requests
            transfers.cancel_transfer(User.get_by_id(waiting.requester_id), waiting)
        proposal = []
        for _ in range(max(3, args.runs // 2)):
            draft = transfers.leaver_draft(holder)
            if draft is not None:
                transfers.Transfer.delete().where(transfers.Transfer.id == draft.id).execute()
            started = time.perf_counter()
            draft = transfers.prepare_leaver_plan(admin, holder)
            proposal.append(ms(started))
        rows.append(row(f"(c) prepare_leaver_plan, {held} customers", proposal, {"ok": len(proposal)}))
        admin_client = login(app, admin.username)
        times, statuses = timed(admin_client, f"/transfers/leaver/{holder.id}", False, args.runs * 3)
        rows.append(row(f"(c) GET /transfers/leaver/<id> ({held} in the plan)", times, statuses))
        times, statuses = timed(admin_client, f"/transfers/{draft.id}", False, args.runs * 3)
        rows.append(row("(c) GET /transfers/<id> (the plan's page)", times, statuses))
        # carry it out once (the job runs here, in chunks of 100); the holder is then deactivated
        transfers.execute_leaver_plan(admin, draft, "基准测试：离职交接", "基准测试")
        started = time.perf_counter()
        finished = transfers.run_job(draft.id)
        job = ms(started)
        rows.append(row(f"(c) leaver job, {finished.done} customers ({finished.status})", [job], {"ok": 1}))
    print_table(rows)


if __name__ == "__main__":
    main()
