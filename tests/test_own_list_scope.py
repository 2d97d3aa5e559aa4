"""A list of "mine" skips the scope when every customer the user owns is one they may open
(permissions.sees_all_owned): that must hold for every role it says so of, whatever the customers' state."""
import pytest

from models.customer_tables import Customer
from models.listing import Filters, page
from models.permissions import can, sees_all_owned


@pytest.mark.parametrize("role,with_team", [("sales", True), ("sales", False), ("manager", True), ("manager", False),
                                            ("marketing", False), ("service", False), ("admin", False)])
def test_a_role_said_to_see_all_it_owns_does(app, make_user, make_team, make_customer, role, with_team):
    team, other_team = make_team(), make_team()
    user = make_user(role, team=team if with_team else None)
    owned = [make_customer(owner=user, stage=stage) for stage in ("prospect", "target", "intent", "signed")]
    # a file whose team is not the owner's (moved by hand, an import): the owner still owns it
    Customer.update(team=other_team.id).where(Customer.id == owned[-1].id).execute()
    owned = [Customer.get_by_id(c.id) for c in owned]
    opens = [can(user, "customer.view", c) for c in owned]
    if sees_all_owned(user):
        assert all(opens)
    listed = {c.id for c in page(user, Filters(scope="mine"), count=False).rows}
    assert listed == {c.id for c, ok in zip(owned, opens) if ok}
    inactive = make_user(role, active=False)
    assert not sees_all_owned(inactive)
