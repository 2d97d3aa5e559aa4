"""Demo scene for custom profile fields (issue 13 point 2): three fields a garment supplier's sales
operations would add — annual capacity (年产能, a number), main fabric (主营面料, a choice, not asked of
project-sales customers) and own brand (是否有自有品牌, yes/no) — defined through the verb, with values on
about half of the customers past marketing's stages (more the further up the ladder), so the files, the
list filter and completeness show them.
"""
from random import Random

from models import clock
from models.customers import MARKETING_STAGES, STAGES, CustomField, CustomValue, Customer, Industry
from models.settings import CompletenessJob, advance, save_custom_field
from models.users import User

SEED = 20261206
FABRICS = ("羊毛", "牛仔布", "全棉", "真丝", "针织布", "化纤")
FABRIC_OF_INDUSTRY = {"suits": "羊毛", "jeans": "牛仔布", "shirts": "全棉", "knitwear": "针织布",
                      "sportswear": "化纤", "outerwear": "化纤", "childrens": "全棉", "uniforms": "化纤"}
FIELDS = (  # key, 中文, English, kind, options, business models, weight
    ("annual_capacity", "年产能（万件）", "Annual capacity (10k pieces)", "number", "", [], 5),
    ("main_fabric", "主营面料", "Main fabric", "choice", "\n".join(FABRICS), ["consumer", "industrial", "key_account"], 5),
    ("own_brand", "是否有自有品牌", "Has its own brand", "yes_no", "", [], 0),
)
# Share of customers with values, by stage: reps learn more as the customer moves up.
SHARE = {"target": 0.35, "intent": 0.55, "signed": 0.75, "long_term": 0.85}


def stage(progress=None):
    say = progress or (lambda msg: None)
    admin = User.get_or_none(User.username == "admin")
    if admin is None or CustomField.select().where(CustomField.key == FIELDS[0][0]).exists():
        return
    say("demo data: custom fields and their values")
    rng = Random(SEED)
    fields = {}
    for position, (key, zh, en, kind, options, models, _) in enumerate(FIELDS):
        # weight 0 while the values go in: the weights come after, with one recompute for all
        fields[key] = save_custom_field(admin, {"key": key, "label_zh": zh, "label_en": en, "kind": kind,
                                                "choices": options, "business_models": models, "weight": 0,
                                                "position": position})
    industries = {i.id: i.code for i in Industry.select(Industry.id, Industry.code)}
    rows = []
    query = (Customer.select(Customer.id, Customer.stage, Customer.business_model, Customer.industry, Customer.size)
             .where(Customer.stage.not_in(MARKETING_STAGES)).order_by(Customer.id).tuples())
    for pk, stage_, business_model, industry_id, size in query:
        if rng.random() >= SHARE.get(stage_, 0.3):
            continue
        big = size in ("large", "xlarge") or business_model == "key_account"
        capacity = rng.randrange(80, 600) if big else rng.randrange(5, 120)
        rows.append((pk, fields["annual_capacity"].id, str(capacity), capacity))
        if fields["main_fabric"].applies_to(business_model) and rng.random() < 0.85:
            fabric = FABRIC_OF_INDUSTRY.get(industries.get(industry_id)) if rng.random() < 0.7 else None
            rows.append((pk, fields["main_fabric"].id, fabric or rng.choice(FABRICS), None))
        if rng.random() < 0.7:
            own = rng.random() < (0.6 if big else 0.25) + 0.05 * STAGES.index(stage_)
            rows.append((pk, fields["own_brand"].id, "1" if own else "0", None))
    for start in range(0, len(rows), 5000):
        CustomValue.insert_many(rows[start:start + 5000],
                                fields=[CustomValue.customer, CustomValue.field, CustomValue.value,
                                        CustomValue.number]).execute()
    for key, *_, weight in FIELDS:
        CustomField.update(weight=weight).where(CustomField.id == fields[key].id).execute()
    advance(CompletenessJob.create(created_at=clock.now()))
    say(f"demo data: {len(rows):,} custom values, completeness recomputed")
