"""Demo scene for customer import (issue 14 point 7): marketing has imported a trade-show list (a GBK
CSV, as Excel saves it in China) through the verbs: new customers in their region's pool, duplicates of
demo customers skipped or filled in, and a few bad rows in the file of rejected rows; a second sheet
waits for its column mapping."""
import csv
import io

from models import imports
from models.customers import Customer
from models.user_tables import Region, User

HEADER = ["客户名称", "统一社会信用代码", "电话", "城市", "区域", "联系人", "手机", "行业"]
SHOW = [
    ("杭州锦程服饰有限公司", "0571-86001234", "杭州", "王丽", "13957100001"),
    ("苏州雅织纺织有限公司", "0512-65001234", "苏州", "陈刚", "13862000002"),
    ("宁波海纳制衣有限公司", "0574-87001234", "宁波", "李娜", "13905740003"),
    ("南京金陵西服有限公司", "025-84001234", "南京", "张伟", "13913000004"),
    ("温州欧瑞鞋业有限公司", "0577-88001234", "温州", "刘洋", "13857700005"),
    ("绍兴丝路家纺有限公司", "0575-85001234", "绍兴", "黄敏", "13905750006"),
]


def _sheet(rows):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    writer.writerows(rows)
    return out.getvalue().encode("gb18030")


def stage(say):
    marketing = User.get(User.username == "marketing")
    region = Region.select().order_by(Region.id).first()
    rows = [[name, "", phone, city, region.name_zh, person, mobile, "西装"] for name, phone, city, person, mobile in SHOW]
    known = list(Customer.select().where(Customer.owner.is_null(False)).order_by(Customer.id).limit(2))
    leads = list(Customer.select().where((Customer.stage == "unidentified") & ((Customer.phone == "") | (Customer.city == "")))
                 .order_by(Customer.id).limit(1))
    if known:
        rows.append([known[0].name, known[0].credit_code or "", "", "", "", "", "", ""])  # a rep's customer: skipped
    if leads:
        rows.append([leads[0].name, "", "0571-86009999", "杭州", "", "", "", ""])  # a lead: its empty fields filled in
    rows.append(["电话写错服饰有限公司", "", "12345", "杭州", "", "", "", ""])
    rows.append(["", "", "021-62345678", "上海", "", "", "", ""])
    job = imports.create_job(marketing, "2026秋季展会名单.csv", _sheet(rows))
    imports.check_job(marketing, job, {f"col_{k}": v for k, v in job.mapping.items()})
    imports.run_job(job.id)
    job = imports.start_import(marketing, imports.ImportJob.get_by_id(job.id),
                               {"on_credit_code": "skip", "on_phone": "skip", "on_name": "update", "stage": "target"})
    imports.run_job(job.id)
    imports.create_job(marketing, "渠道商推荐客户.csv", _sheet([["台州新程服装有限公司", "", "0576-88001234", "台州",
                                                             "", "赵敏", "13905760007", "西装"]]))
    done = imports.ImportJob.get_by_id(job.id)
    say(f"customer import: {done.created} created, {done.updated} updated, {done.skipped} skipped, "
        f"{done.rejected} rejected")
