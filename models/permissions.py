"""Who may do what: every rule in one place.

`can(user, action, obj)` answers, `require` raises NotFound when the answer is no (a forbidden
record is indistinguishable from a missing one), and `visible(query, user)` narrows a customer
query to what the user may see, so lists, counts and search never leak.
"""
from models.errors import NotFound

MARKETING_STAGES = ("unidentified", "prospect")


def _customer_visible(user, c):
    if user.role in ("admin", "service"):
        return True
    if user.role == "sales":
        return c.owner_id == user.id
    if user.role == "manager":
        if user.team_id is None:
            return c.owner_id == user.id
        return c.team_id == user.team_id
    if user.role == "marketing":
        return c.stage in MARKETING_STAGES
    return False


def _customer_editable(user, c):
    if user.role == "service":
        return False
    return _customer_visible(user, c)


RULES = {
    "customer.view": _customer_visible,
    "customer.edit": _customer_editable,
    "customer.change_stage": _customer_editable,
    "customer.assign": lambda u, c: u.role == "admin" or (u.role == "manager" and _customer_visible(u, c)),
    "followup.create": lambda u, c: _customer_visible(u, c),
    "customer.create": lambda u, _=None: u.role in ("sales", "manager", "marketing", "admin"),
    "customer.list": lambda u, _=None: True,
    "user.manage": lambda u, _=None: u.role == "admin",
    "team.manage": lambda u, _=None: u.role == "admin",
    "settings.manage": lambda u, _=None: u.role == "admin",
    "audit.view": lambda u, _=None: u.role == "admin",
}


def can(user, action, obj=None):
    if user is None or not getattr(user, "is_authenticated", False) or not user.active:
        return False
    rule = RULES.get(action)
    if rule is None:
        raise KeyError(f"unknown permission {action!r}")
    return bool(rule(user, obj))


def require(user, action, obj=None):
    if not can(user, action, obj):
        raise NotFound()


def visible(query, user):
    """Narrow a Customer query to the rows `user` may see (mirrors customer.view)."""
    from models.customers import Customer

    if user.role in ("admin", "service"):
        return query
    if user.role == "sales":
        return query.where(Customer.owner == user.id)
    if user.role == "manager":
        if user.team_id is None:
            return query.where(Customer.owner == user.id)
        return query.where(Customer.team == user.team_id)
    if user.role == "marketing":
        return query.where(Customer.stage.in_(MARKETING_STAGES))
    return query.where(Customer.id == 0)
