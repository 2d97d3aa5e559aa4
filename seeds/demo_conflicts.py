"""Demo scenes for ownership disputes (issue 5), staged through the verbs after the pool scenes:

- duplicate look-alikes: 上海锦绣服饰有限公司 (rep003) and 上海锦绣服饰(集团)有限公司 (rep004, same phone
  typed another way, saved with a reason), and 上海錦繡服飾有限公司 in traditional characters in the pool;
- an open conflict case in manager01's team: rep004 disputes rep003's file, naming their own;
- a closed case (ruled by manager01) so the case list shows both states;
- an active delegation: rep002 away for the rest of the week, rep001 acts for them (so the first demo
  login sees the "acting for" banner, and rep001's own release clocks, which other scenes stage, run on).
"""
import datetime as dt

from models import clock, conflicts, delegations, pools
from models.customers import Customer, create_customer, log_follow_up, save_contact
from models.users import User

VISIT = "上门拜访了采购经理，看了今年秋冬的西装面料样品，对方计划下月下单"


def _user(username):
    return User.get(User.username == username)


def _customer(actor, name, phone, reason="", owner=None, **extra):
    data = {"name": name, "phone": phone, "business_model": "consumer", "source": "rep_developed", "city": "上海",
            "duplicate_reason": reason, **extra}
    if owner is not None:
        data["owner_id"] = str(owner.id)
    return create_customer(actor, data)


def stage(progress=None):
    say = progress or (lambda msg: None)
    rep1, rep2, rep3, rep4 = (_user(f"rep{n:03d}") for n in (1, 2, 3, 4))
    manager, admin = _user("manager01"), _user("admin")

    # look-alikes: one company, two files (the second saved with a reason), and a third in the pool
    original = _customer(rep3, "上海锦绣服饰有限公司", "021-5888 1234")
    save_contact(rep3, original, {"name": "周红", "title": "采购经理", "decision_role": "buyer",
                                  "mobile": "139 1688 2266"})
    copy = _customer(rep4, "上海锦绣服饰(集团)有限公司", "+86 21 58881234",
                     reason="客户说集团公司单独采购，和分公司不是一个账户")
    traditional = _customer(admin, "上海錦繡服飾有限公司", "", reason="台湾客户录入的繁体名称")
    pools.place_unowned()
    for customer in (original, copy):  # new files start their release clock
        pools.refresh_release(Customer.get_by_id(customer.id))

    # evidence on both sides: the claimant's valid visit, the owner's stock phrase
    log_follow_up(rep4, Customer.get_by_id(copy.id), {"type": "visit", "content": VISIT})
    log_follow_up(rep3, Customer.get_by_id(original.id), {"type": "call", "content": "继续跟进"})
    conflicts.open_case(rep4, original.id, "我先拜访过集团的采购经理，对方确认是同一家公司，应当归我跟进",
                        claimant_customer_id=copy.id)

    # a closed case: rep005 disputed a customer of rep006, manager01 kept it with rep006
    rep5, rep6 = _user("rep005"), _user("rep006")
    disputed = Customer.select().where(Customer.owner == rep6.id).order_by(Customer.id).first()
    if disputed is not None:
        case = conflicts.open_case(rep5, disputed.id, "展会上客户老板说和我谈过合作，希望由我跟进",
                                   seen={"name": disputed.name})  # as typed into a new file: the duplicate check's match
        conflicts.rule_case(manager, case.id, "owner", "客户一直由原负责人有效跟进，展会接触不构成首次有效接触")

    # rep002 is away for the rest of the week (at least three days): rep001 acts for them
    today = clock.today()
    end = today + dt.timedelta(days=max(6 - today.weekday(), 2))
    delegations.create_delegation(rep2, {"delegate_id": rep1.id, "starts_on": today.isoformat(),
                                         "ends_on": end.isoformat(), "reason": "外地参加面料展会"})
    say(f"demo data: duplicates ({original.id}, {copy.id}, {traditional.id}), conflict cases and a delegation staged")
