"""Demo scenes for pool cleansing (issue 17 item 4).

The admin has started a cleansing campaign over the East pool (records with no activity for 30 days), split
among the East's teams, keeping a record only with its phone and address. Team 1 (manager01, rep001) has
classified a few: kept ones with the address filled, a doubtful one, and a junk one now in quarantine; another
East team has classified two, so the rankings by team and region have something to show. The admin ran the
normalisation (phones to one format, invalid credit codes flagged). rep001 still has open tasks to classify.
"""
from models import clock
from models import cleansing as cm
from models.customer_tables import Customer
from models.errors import ValidationError
from models.pools import Pool
from models.user_tables import Region, Team, User


def stage(say=None):
    say = say or (lambda msg: None)
    admin = User.get(User.username == "admin")
    east = Region.get_or_none(Region.code == "east")
    pool = Pool.get_or_none((Pool.region == east.id) & (Pool.active == True)) if east else None  # noqa: E712
    if pool is None or not Customer.select().where((Customer.pool == pool.id) & Customer.owner.is_null()).exists():
        return
    campaign = cm.start_campaign(admin, {"name": "华东公海清洗（11月）", "pool_id": str(pool.id), "split": "team",
                                         "idle_days": "30", "min_fields": ["phone", "address"]})
    cm.normalise(admin, campaign)
    now = clock.now()
    teams = (Team.select(Team.id).where(Team.region == east.id).order_by(Team.id).tuples())
    plan = {0: ("keep", "keep", "doubtful", "junk", "keep"), 1: ("keep", "junk")}
    for k, (team_id,) in enumerate(teams):
        verdicts = plan.get(k)
        if not verdicts:
            continue
        worker = (User.select().where((User.team == team_id) & (User.role == "manager") & (User.active == True))  # noqa: E712
                  .first())
        if worker is None:
            continue
        tasks = list(cm.CleansingTask.select().where((cm.CleansingTask.campaign == campaign.id)
                                                     & (cm.CleansingTask.team == team_id)).order_by(cm.CleansingTask.id)
                     .limit(len(verdicts) * 3))
        done = 0
        for task in tasks:
            if done == len(verdicts):
                break
            customer = Customer.get_by_id(task.customer_id)
            verdict = verdicts[done]
            values = {"address": customer.address or f"{customer.city or '上海'}市工业园区{task.id % 90 + 1}号",
                      "phone": customer.phone or ""}
            if verdict == "keep" and not customer.phone:
                continue
            note = {"keep": "", "doubtful": "电话无人接听，待再核实", "junk": "公司已注销，号码为空号"}[verdict]
            try:
                cm.classify_record(worker, task, verdict, values, note, now=now)
            except ValidationError:  # a demo file whose phone the form would not take: the next one
                continue
            done += 1
    say(f"pool cleansing: campaign #{campaign.id} over {campaign.total} East pool records")
