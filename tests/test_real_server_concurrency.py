"""Different verbs on the same customers at the same time, through the real server (waitress threads, a real
WAL file): reps claim and release, a manager assigns, transfers, edits and changes stages, service agents
log follow-ups. Afterwards every success the server answered is still true: replaying each customer's
ledger from its state before the run is consistent (nobody claims a customer someone owns, only the owner
releases) and ends where the row is; the last successful edit is in the row; every follow-up answered
saved is there. Nothing here measures time: the proof is in the rows."""
import random
import threading
from collections import Counter, defaultdict

import pytest

from tests.live import report

pytestmark = pytest.mark.server

ROUNDS = 12
OWNERSHIP_KINDS = ("claim", "release", "forced_release", "assign", "transfer", "placed", "conflict_ruling")


def _state(conn, ids):
    return {r["id"]: (r["owner_id"], r["pool_id"]) for r in conn.execute(
        f"SELECT id, owner_id, pool_id FROM customer WHERE id IN ({','.join('?' * len(ids))})", ids)}


def _team(conn):
    manager = conn.execute("SELECT id, team_id FROM user WHERE username = 'manager01'").fetchone()
    region = conn.execute("SELECT region_id FROM team WHERE id = ?", (manager["team_id"],)).fetchone()[0]
    reps = [dict(r) for r in conn.execute(
        "SELECT id, username FROM user WHERE team_id = ? AND role = 'sales' AND active = 1 ORDER BY id LIMIT 4",
        (manager["team_id"],))]
    pool = conn.execute("SELECT id FROM pool WHERE region_id = ? AND active = 1", (region,)).fetchone()[0]
    return manager, reps, pool


def test_mixed_verbs_on_the_same_customers_lose_nothing(real_server):
    conn = real_server.db()
    manager, reps, pool_id = _team(conn)
    rep_ids = [r["id"] for r in reps]
    pooled = [r[0] for r in conn.execute(
        "SELECT id FROM customer WHERE pool_id = ? AND owner_id IS NULL AND staked_by_id IS NULL AND locked = 0"
        " AND drop_at IS NULL AND quarantined_at IS NULL AND released_at IS NULL"  # claimable now: no drop queue,
        " ORDER BY id DESC LIMIT 6", (pool_id,))]  # no quarantine, not frozen after a release
    owned = [r[0] for r in conn.execute(
        f"SELECT id FROM customer WHERE owner_id IN ({','.join('?' * len(rep_ids))}) AND locked = 0"
        " AND contract_end IS NULL ORDER BY id LIMIT 6", rep_ids)]
    ids = pooled + owned
    assert len(pooled) == 6 and len(owned) == 6
    before = _state(conn, ids)
    ledger_start = conn.execute("SELECT coalesce(max(id), 0) FROM pool_event").fetchone()[0]
    followups_start = conn.execute("SELECT coalesce(max(id), 0) FROM follow_up").fetchone()[0]
    conn.close()

    sessions = {r["username"]: real_server.session(r["username"], language="en") for r in reps}
    sessions["manager01"] = real_server.session("manager01", language="en")
    agents = [f"service0{i}" for i in range(1, 6)]
    for name in agents:
        sessions[name] = real_server.session(name, language="en")

    answered = defaultdict(list)  # kind -> [(customer, user)] the server said were done
    edits = {}  # customer -> the last address the server said it saved
    lock = threading.Lock()
    barrier = threading.Barrier(len(reps) + 1 + len(agents))
    errors = []

    def ok(kind, cid, who, response, success_codes=(303,)):
        if response.status_code >= 500:
            errors.append((kind, cid, who, response.status_code, response.text[:200]))
        elif response.status_code in success_codes:
            with lock:
                answered[kind].append((cid, who))
            return True
        return False

    def rep_loop(rep):
        s, rng = sessions[rep["username"]], random.Random(rep["id"])
        barrier.wait(timeout=60)
        for _ in range(ROUNDS):
            cid = rng.choice(ids)
            if ok("claim", cid, rep["id"], s.post(f"/pools/{cid}/claim")) or rng.random() < 0.5:
                ok("release", cid, rep["id"], s.post(f"/customers/{cid}/release", {"reason": "并发测试：客户暂无需求"}))
            s.post(f"/customers/{rng.choice(ids)}/followups/new",
                   {"type": "call", "content": "电话回访，客户表示下月再谈采购计划。", "outcome": "", "next_step": ""})

    def manager_loop():
        s, rng = sessions["manager01"], random.Random(7)
        barrier.wait(timeout=60)
        for i in range(ROUNDS * 2):
            choice = i % 4
            # assignments come from the pool; edits, stage changes and transfers are on the team's files
            cid = rng.choice(pooled if choice == 0 else owned)
            if choice == 0:
                answer = s.post(f"/pools/{cid}/assign", {"rep_id": rng.choice(rep_ids), "reason": "并发测试分配"})
                if ok("assign?", cid, manager["id"], answer, (200,)) and "Assigned to" in answer.text:
                    answered["assign"].append((cid, manager["id"]))
            elif choice == 1:
                page = s.get(f"/customers/{cid}/edit")
                if page.status_code == 200:
                    from tests.live import links_of
                    form = next((f for f in links_of(page.text).forms if f["action"].endswith("/edit")), None)
                    if form:
                        address = f"并发测试路{i}号"
                        data = {**form["fields"], "address": address}
                        if ok("edit", cid, manager["id"], s.post(f"/customers/{cid}/edit", data)):
                            edits[cid] = address
            elif choice == 2:
                stage = rng.choice(["target", "contacted", "visited"])
                ok("stage", cid, manager["id"], s.post(f"/customers/{cid}/stage", {"stage": stage, "reason": "并发"}))
            else:
                to = rng.choice(rep_ids)
                answer = s.post(f"/transfers/new?customer={cid}", {"to": f"u:{to}", "reason": "并发测试转移"})
                if answer.status_code == 303:
                    transfer_id = int(answer.headers["Location"].rstrip("/").split("/")[-1])
                    c = real_server.db()
                    approvals = [r[0] for r in c.execute(
                        "SELECT id FROM transfer_approval WHERE transfer_id = ? AND status = 'pending'", (transfer_id,))]
                    c.close()
                    for aid in approvals:
                        answer = s.post(f"/transfers/approvals/{aid}", {"decision": "approve", "reason": "同意"},
                                        htmx=True)
                        if answer.status_code >= 500:
                            errors.append(("transfer", cid, answer.status_code, answer.text[:200]))

    def agent_loop(name):
        s, rng = sessions[name], random.Random(name)
        barrier.wait(timeout=60)
        for _ in range(ROUNDS):
            cid = rng.choice(ids)
            ok("followup", cid, name, s.post(f"/customers/{cid}/followups/new", {
                "type": "call", "content": "客户来电咨询售后事宜，已记录并转交相关同事跟进处理。", "outcome": "", "next_step": ""}))

    threads = [threading.Thread(target=rep_loop, args=(r,)) for r in reps]
    threads.append(threading.Thread(target=manager_loop))
    threads += [threading.Thread(target=agent_loop, args=(n,)) for n in agents]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    assert not errors, errors[:5]

    conn = real_server.db()
    after = _state(conn, ids)
    events = defaultdict(list)
    for r in conn.execute(
            f"SELECT id, kind, customer_id, actor_id, from_owner, to_owner, from_pool, to_pool FROM pool_event"
            f" WHERE id > ? AND customer_id IN ({','.join('?' * len(ids))}) ORDER BY id", [ledger_start, *ids]):
        events[r["customer_id"]].append(dict(r))
    problems = []
    for cid in ids:
        owner, pool = before[cid]
        for e in events[cid]:
            if e["kind"] == "claim":
                if owner is not None:
                    problems.append((cid, "claimed while owned", owner, e))
                owner, pool = e["to_owner"], None
            elif e["kind"] in ("release", "forced_release"):
                if owner is None or e["from_owner"] != owner:
                    problems.append((cid, "released by someone not the owner", owner, e))
                owner, pool = None, e["to_pool"]
            elif e["kind"] in ("assign", "transfer"):
                if e["kind"] == "transfer" and e["from_owner"] != owner:
                    problems.append((cid, "transferred from someone not the owner", owner, e))
                if e["to_owner"] is not None:
                    owner, pool = e["to_owner"], None
                else:
                    owner, pool = None, e["to_pool"]
        if (owner, pool) != after[cid]:
            problems.append((cid, "row disagrees with its ledger", (owner, pool), after[cid], events[cid][-3:]))
    # Every success the server answered has its ledger row.
    counts = Counter(e["kind"] for evs in events.values() for e in evs)
    if counts["claim"] != len(answered["claim"]):
        problems.append(("claims answered", len(answered["claim"]), "claim rows", counts["claim"]))
    if counts["release"] != len(answered["release"]):
        problems.append(("releases answered", len(answered["release"]), "release rows", counts["release"]))
    for cid, address in edits.items():
        row = conn.execute("SELECT address FROM customer WHERE id = ?", (cid,)).fetchone()[0]
        if row != address:
            problems.append((cid, "edit lost", address, row))
    saved = conn.execute("SELECT count(*) FROM follow_up f JOIN user u ON u.id = f.author_id WHERE f.id > ?"
                         " AND u.username LIKE 'service0%'", (followups_start,)).fetchone()[0]
    if saved != len(answered["followup"]):
        problems.append(("follow-ups answered", len(answered["followup"]), "saved", saved))
    conn.close()
    report(f"concurrency: answered {dict((k, len(v)) for k, v in answered.items())}, ledger {dict(counts)}, "
          f"problems {len(problems)}")
    assert not problems, problems[:10]
    for kind in ("claim", "release", "followup", "edit", "stage"):
        assert answered[kind], f"the run proved nothing about {kind}: none succeeded ({dict(answered)})"
    assert counts["transfer"] or counts["assign"], "no transfer or assignment was carried out"


def test_fifty_reps_claim_one_customer_in_chinese(real_server):
    """Fifty reps of the pool's region click claim on one customer at once, in zh_CN, over htmx:
    exactly one wins and every other gets its refusal (a row with the reason), never a 500."""
    conn = real_server.db()
    row = conn.execute(
        "SELECT c.id, p.region_id FROM customer c JOIN pool p ON p.id = c.pool_id WHERE c.owner_id IS NULL"
        " AND c.staked_by_id IS NULL AND c.locked = 0 AND p.region_id IS NOT NULL AND c.drop_at IS NULL"
        " AND c.quarantined_at IS NULL AND c.released_at IS NULL ORDER BY c.id LIMIT 1").fetchone()  # claimable now
    cid, region = row["id"], row["region_id"]
    reps = [r[0] for r in conn.execute(
        "SELECT username FROM user WHERE role = 'sales' AND active = 1 ORDER BY region_id = ? DESC, id LIMIT 50",
        (region,))]
    conn.close()
    sessions = [real_server.session(name, language="zh_CN") for name in reps]
    barrier = threading.Barrier(len(sessions))
    answers = [None] * len(sessions)

    def claim(i):
        barrier.wait(timeout=60)
        answers[i] = sessions[i].post(f"/pools/{cid}/claim", htmx=True)

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(len(sessions))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    statuses = Counter(a.status_code for a in answers)
    assert statuses[500] == 0 and all(a.status_code < 500 for a in answers), statuses
    conn = real_server.db()
    claims = conn.execute("SELECT count(*) FROM pool_event WHERE customer_id = ? AND kind = 'claim'", (cid,)).fetchone()[0]
    owner = conn.execute("SELECT owner_id FROM customer WHERE id = ?", (cid,)).fetchone()[0]
    conn.close()
    report(f"50 claims in zh_CN: statuses {dict(statuses)}, claim rows {claims}")
    assert claims == 1 and owner is not None


def test_marketing_routes_an_inbound_lead_once_in_chinese(real_server):
    """登记来询线索 in zh_CN: one answer (a toast the server can send), one ledger row, so nobody retries."""
    conn = real_server.db()
    cid = conn.execute("SELECT id FROM customer WHERE stage IN ('unidentified', 'prospect') ORDER BY id LIMIT 1"
                       ).fetchone()[0]
    before = conn.execute("SELECT count(*) FROM pool_event WHERE customer_id = ? AND kind = 'lead_routed'",
                          (cid,)).fetchone()[0]
    conn.close()
    s = real_server.session("marketing", language="zh_CN")
    answer = s.post(f"/customers/{cid}/inbound-lead", {"note": "官网来询：想了解批量采购价格"}, htmx=True)
    assert answer.status_code == 200, (answer.status_code, answer.text[:200])
    assert "showToast" in answer.headers["HX-Trigger"]
    conn = real_server.db()
    after = conn.execute("SELECT count(*) FROM pool_event WHERE customer_id = ? AND kind = 'lead_routed'",
                         (cid,)).fetchone()[0]
    conn.close()
    assert after == before + 1
