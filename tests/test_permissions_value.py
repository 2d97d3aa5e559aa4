"""Permission matrix of customer value (issue 15): role × relation × action over HTTP. The owner, their
team's manager and admins enter influence; managers see their team's pyramid and its moves, admins
everyone's; only admins edit the value rule. Allowed: 2xx/3xx and the row written; denied: 404 for a plain
and an htmx request, nothing written."""
import pytest

from models import clock
from models.customers import Customer

from models import buying_factors as bf
from models import value as vm
from models import wallet as wm
from models.opportunities import OPEN_STAGES, Opportunity
from models.orders import Product
from tests.test_value import rule_form as _rule_form
from tests.test_permissions import ACTOR, ROLES, Action, check_action, parse_table, world  # noqa: F401


FACTORS = {"first": "price", "second": "relationship", "third": "value", "evidence": "采购总监说三家比价，最低价中标"}
SPEND = {"product_line": "面料", "spend": "300万", "customer_growth": "15", "estimated_on": "2026-11-20",
         "source": "采购经理口述"}
COMPETITOR = {"product_line": "面料", "competitor": "华纺集团", "growth": "30", "share": "40", "estimated_on": "2026-11-20",
              "source": "展会上听说"}

CUSTOMER_ACTIONS = {
    "influence_form": Action("GET", "/customers/{c}/value/influence"),
    "influence": Action("POST", "/customers/{c}/value/influence", {"influence": "4", "reason": "行业龙头，带动同行采购"},
                        "value.influence_set",
                        lambda i: vm.CustomerValue.select().where((vm.CustomerValue.customer == i["c"])
                                                                  & (vm.CustomerValue.influence == 4))),
    "strategy_done": Action("POST", "/customers/{c}/value/strategies/{s}", {"note": "高层拜访"}, "value.strategy_done",
                            lambda i: vm.StrategyDone.select().where(vm.StrategyDone.customer == i["c"])),
    "factors_form": Action("GET", "/customers/{c}/buying-factors"),
    "factors": Action("POST", "/customers/{c}/buying-factors", FACTORS, "value.factors_set",
                      lambda i: bf.BuyingFactors.select().where(bf.BuyingFactors.customer == i["c"])),
    "opp_factors_form": Action("GET", "/opportunities/{o}/buying-factors"),
    "opp_factors": Action("POST", "/opportunities/{o}/buying-factors", FACTORS, "value.factors_set",
                          lambda i: bf.BuyingFactors.select().where(bf.BuyingFactors.opportunity == i["o"])),
    "wallet": Action("GET", "/customers/{c}/wallet"),
    "spend": Action("POST", "/customers/{c}/wallet/spend", SPEND, "value.spend_estimated",
                    lambda i: wm.SpendEstimate.select().where(wm.SpendEstimate.customer == i["c"])),
    "competitor": Action("POST", "/customers/{c}/wallet/competitor", COMPETITOR, "value.competitor_estimated",
                         lambda i: wm.CompetitorEstimate.select().where(wm.CompetitorEstimate.customer == i["c"])),
}
CUSTOMER_TABLE = """
role       relation    influence_form influence strategy_done factors_form factors opp_factors_form opp_factors wallet spend competitor
sales      own         Y              Y         Y             Y            Y       Y                Y           Y      Y     Y
sales      same_team   -              -         -             -            -       -                -           -      -     -
sales      other_team  -              -         -             -            -       -                -           -      -     -
sales      unowned     -              -         -             -            -       -                -           -      -     -
manager    own         Y              Y         Y             Y            Y       Y                Y           Y      Y     Y
manager    same_team   Y              Y         Y             Y            Y       Y                Y           Y      Y     Y
manager    other_team  -              -         -             -            -       -                -           -      -     -
manager    unowned     -              -         -             -            -       -                -           -      -     -
marketing  other_team  -              -         -             -            -       -                -           -      -     -
marketing  unowned     -              -         -             -            -       -                -           -      -     -
service    other_team  -              -         -             -            -       -                -           Y      -     -
service    unowned     -              -         -             -            -       -                -           Y      -     -
admin      other_team  Y              Y         Y             Y            Y       Y                Y           Y      Y     Y
admin      unowned     Y              Y         Y             Y            Y       Y                Y           Y      Y     Y
"""
CUSTOMER_OF = {("sales", "own"): "a_rep", ("sales", "same_team"): "a_mgr", ("manager", "own"): "a_mgr",
               ("manager", "same_team"): "a_rep", "other_team": "b_rep", "unowned": "pool"}

ROLE_ACTIONS = {
    "pyramid": Action("GET", "/value/pyramid"),
    "pyramid_by_region": Action("GET", "/value/pyramid?by=region"),
    "moves": Action("GET", "/value/moves?from=strategic&to=problem"),
    "rules_page": Action("GET", "/admin/value-rules"),
    "rules_save": Action("POST", "/admin/value-rules", _rule_form(sales_full="800000", note="门槛调整"),
                         "value.rule_saved", lambda i: vm.ValueRule.select().where(vm.ValueRule.version == 1)),
    "rules_preview": Action("POST", "/admin/value-rules/preview", _rule_form(sales_full="800000")),
    "strategies": Action("GET", "/admin/value-strategies"),
    "strategy_new": Action("POST", "/admin/value-strategies", {"tier": "diamond", "title_zh": "高层拜访",
                                                               "title_en": "Senior visit", "every_days": "90"},
                           "value.strategy_saved", lambda i: vm.TierStrategy.select().where(vm.TierStrategy.title_en == "Senior visit")),
    "factor_split": Action("GET", "/value/buying-factors?first=price"),
    "share_falls": Action("GET", "/value/share-falls"),
    "care_missing": Action("GET", "/care/missing"),
    "strategy_edit": Action("POST", "/admin/value-strategies/{s}", {"tier": "strategic", "title_zh": "专属工程师",
                                                                    "title_en": "Dedicated engineer", "every_days": ""},
                            "value.strategy_saved",
                            lambda i: vm.TierStrategy.select().where(vm.TierStrategy.title_en == "Dedicated engineer")),
}
ROLE_TABLE = """
role       relation pyramid pyramid_by_region moves rules_page rules_save rules_preview strategies strategy_new strategy_edit factor_split share_falls care_missing
sales      -        -       -                 -     -          -          -             -          -            -             -            -           -
manager    -        Y       Y                 Y     -          -          -             -          -            -             Y            Y           -
marketing  -        -       -                 -     -          -          -             -          -            -             -            -           -
service    -        -       -                 -     -          -          -             -          -            -             -            -           Y
admin      -        Y       Y                 Y     Y          Y          Y             Y          Y            Y             Y            Y           Y
"""

MATRIX_ACTIONS = [*CUSTOMER_ACTIONS.values(), *ROLE_ACTIONS.values()]
CUSTOMER_EXPECTED, ROLE_EXPECTED = parse_table(CUSTOMER_TABLE), parse_table(ROLE_TABLE)


@pytest.mark.parametrize("role,relation,action", [
    (role, relation, action) for (role, relation) in CUSTOMER_EXPECTED for action in CUSTOMER_ACTIONS])
def test_value_customer_routes(client, world, role, relation, action):
    key = CUSTOMER_OF.get((role, relation)) or CUSTOMER_OF[relation]
    customer = world.customers[key]
    # The customer is diamond, with a diamond strategy to tick off (set by hand: no orders in this world).
    Customer.update(value_tier="diamond").where(Customer.id == customer.id).execute()
    s = vm.TierStrategy.create(tier="diamond", title_zh="高层拜访", title_en="Senior visit", every_days=90,
                               created_at=clock.now())
    Product.create(code="FAB-1", name_zh="面料", name_en="Fabric", product_line="面料", list_price=100, unit_cost=60,
                   updated_at=clock.now())
    opp = Opportunity.create(customer=customer.id, owner=customer.owner_id, team=customer.team_id, name="年度工装",
                             probability=30, stage=OPEN_STAGES[0], expected_close="2026-12-31", created_at=clock.now(),
                             updated_at=clock.now(), stage_changed_at=clock.now())
    client.login(world.users[ACTOR[role]])
    check_action(client, CUSTOMER_ACTIONS[action], {"c": customer.id, "s": s.id, "o": opp.id},
                 allowed=CUSTOMER_EXPECTED[(role, relation)][action] == "Y")


@pytest.mark.parametrize("role,action", [(role, action) for role in ROLES for action in ROLE_ACTIONS])
def test_value_role_routes(client, world, role, action):
    s = vm.TierStrategy.create(tier="diamond", title_zh="高层拜访", title_en="Senior visit (old)", every_days=90,
                               created_at=clock.now())
    client.login(world.users[ACTOR[role]])
    check_action(client, ROLE_ACTIONS[action], {"s": s.id}, allowed=ROLE_EXPECTED[(role, "-")][action] == "Y")


def test_tables_are_complete():
    assert {role for role, _ in CUSTOMER_EXPECTED} == set(ROLES)
    assert all(set(row) == set(CUSTOMER_ACTIONS) for row in CUSTOMER_EXPECTED.values())
    assert {role for role, _ in ROLE_EXPECTED} == set(ROLES)
    assert all(set(row) == set(ROLE_ACTIONS) for row in ROLE_EXPECTED.values())
