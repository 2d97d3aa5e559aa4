"""Sentences for the pool ledger ("why did my customer leave") and for the audit kinds whose domain
registers none, in the one registry of views/extend.py (`@extend.timeline`, keys "ledger.<kind>" for
PoolEvent rows). Ledger sentences name who did what to which customer (linked where the reader may open
it, through `extend.names()`, loaded once per page by `extend.load_names`) and the rule version in words.
tests/test_ledger_text.py fails when a kind written by `ledger.record` / `audit.record` has no sentence."""
import datetime as dt
from decimal import Decimal, InvalidOperation

from markupsafe import Markup

from models import orders as orders_mod
from models import projects as projects_mod
from models.conflicts import OUTCOME_LABELS
from models.documents import KIND_LABELS as DOCUMENT_KIND_LABELS
from models.errors import N_
from models.quality_tables import GRADE_LABELS as QUALITY_GRADES
from models.quality_tables import OUTCOME_LABELS as QUALITY_OUTCOMES
from models.quality_tables import SOURCE_LABELS as QUALITY_SOURCES
from models.leads import RULE_LABELS as LEAD_RULE_LABELS, SKIP_LABELS as LEAD_SKIP_LABELS
from models.reorders import UNIT_LABELS
from models.user_tables import ROLE_LABELS
from views import extend
from views.i18n import fmt_date, fmt_datetime, fmt_money, label, locale_code
from views.i18n import gettext as _
from views.pools import LEDGER_LABELS, RELEASE_RULE_LABELS

L = extend.LEDGER


def say(text, **params):
    """A translated sentence (`_()` without params gives the template) with its values escaped, names kept."""
    return Markup(text) % params


def when(value):
    """An ISO date or time from a row's inputs, as the locale writes it."""
    if not value:
        return "—"
    try:
        parsed = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return fmt_date(parsed.date()) if len(str(value)) <= 10 else fmt_datetime(parsed)


def money(value):
    try:
        return fmt_money(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        return str(value or "—")


def reason(text):
    return say(_("— %(reason)s"), reason=text) if text else ""


def join(*parts):
    return Markup(" ").join(p for p in parts if p)


def rule_words(inputs, version):
    """"release rules v3: no valid follow-up for 30 days (since …)" from a release's inputs."""
    inputs = inputs or {}
    v = inputs.get("rule_version", version)
    if inputs.get("rule") == "reorder":  # models/pool_clock.py: judged by its orders
        return say(_("release rules v%(v)s: no order since %(last)s, %(p)s%% of its usual %(n)s days between orders"),
                   v=v, last=when(inputs.get("reorder_last_order")), p=inputs.get("reorder_percent", "?"),
                   n=inputs.get("reorder_interval", "?"))
    if inputs.get("rule") == "stuck":  # models/pool_clock.py stuck_clock: a deal stuck in one stage
        text = say(_("release rules v%(v)s: no valid follow-up for %(n)s days (counted from %(since)s): follow-ups "
                     "after %(stuck)s did not count, its opportunity #%(opp)s had been in one stage for %(days)s days"),
                   v=v, n=inputs.get("days", "?"), since=when(inputs.get("since")), stuck=when(inputs.get("stuck_since")),
                   opp=inputs.get("stuck_opportunity_id", "?"), days=inputs.get("stuck_days", "?"))
    elif inputs.get("rule") == "no_deal" or (inputs.get("claimed_at") and not inputs.get("since")):
        text = say(_("release rules v%(v)s: no deal within %(n)s days of the claim on %(since)s"), v=v,
                   n=inputs.get("days", "?"), since=when(inputs.get("claimed_at")))
    else:
        text = say(_("release rules v%(v)s: no valid follow-up for %(n)s days (counted from %(since)s)"), v=v,
                   n=inputs.get("days", "?"), since=when(inputs.get("since")))
    if inputs.get("paused_days"):
        text = join(text, say(_("plus %(n)s days paused by a delegation"), n=inputs["paused_days"]))
    if inputs.get("clock") == "working":
        text = join(text, _("(counted in working days)"))
    if inputs.get("stopped_days"):
        text = join(text, say(_("plus %(n)s days stopped by %(what)s"), n=inputs["stopped_days"],
                              what=", ".join(inputs.get("freezes") or []) or _("a pause")))
    if inputs.get("last_deal_on"):
        text = join(text, say(_("(the last signed order or payment, on %(d)s, was more than %(n)s days before)"),
                              d=when(inputs["last_deal_on"]), n=inputs.get("deal_days", "?")))
    return text


def _who(e, fallback=None):
    return extend.names().person(e.actor_id, fallback or _("The system"))


def _pool(pool_id):
    return extend.names().pool(pool_id)


REFUSALS = {"role": N_("only sales reps and managers claim customers"), "taken": N_("it was no longer in the pool"),
            "pool": N_("it is not a pool they may claim from"), "staked": N_("another rep has staked it"),
            "claims_per_day": N_("the daily claim limit was reached"), "capacity": N_("their private pool was full"),
            "frozen": N_("it was freshly released and still frozen"), "cooling_off": N_("they released it: cooling-off"),
            "team_cooling_off": N_("their team released it: cooling-off"),
            "drop": N_("it had not dropped yet"), "drop_due": N_("its drop was being drawn"),  # models/drops.py
            "drop_lost": N_("the lottery gave it to another rep"), "inactive": N_("their account was not active")}
PLACED = {"qualified": N_("qualified by marketing with no owner yet"), "created": N_("created with no owner"),
          "unassigned": N_("its owner was removed"), "repair": N_("found with no owner and in no pool")}
VIA = {"owner": N_("its owner"), "staker": N_("the rep who staked it"), "pool": N_("nobody: it is in the pool")}


# ---- the pool ledger -----------------------------------------------------------------------------

@extend.timeline(L)
def describe_ledger(e):
    n, d = extend.names(), e.inputs or {}
    k, who, customer = e.kind, _who(e), n.customer(e.customer_id)
    if k == "claim":
        text = say(_("%(who)s claimed %(customer)s from %(pool)s"), who=who, customer=customer, pool=_pool(e.from_pool))
        if d.get("release_at"):
            text = join(text, say(_("(back to the pool on %(at)s unless worked: %(rule)s, rules v%(v)s)"),
                                  at=when(d["release_at"]), rule=label(RELEASE_RULE_LABELS, d.get("release_rule")),
                                  v=e.rule_version))
        return text
    if k == "claim_refused":
        why = label(REFUSALS, d.get("rule"))
        if d.get("until"):
            why = say(_("%(why)s until %(until)s"), why=why, until=when(d["until"]))
        return say(_("%(who)s tried to claim %(customer)s and was refused: %(why)s"), who=who, customer=customer,
                   why=why)
    if k == "release":
        text = _("%(who)s released %(customer)s from their private pool to %(pool)s") if e.actor_id == e.from_owner \
            else _("%(who)s released %(customer)s from the private pool of %(owner)s to %(pool)s")
        return join(say(text, who=who, customer=customer, owner=n.person(e.from_owner), pool=_pool(e.to_pool)),
                    reason(e.reason))
    if k == "forced_release":
        return say(_("%(customer)s went back from %(owner)s to %(pool)s by itself: %(rule)s"), customer=customer,
                   owner=n.person(e.from_owner), pool=_pool(e.to_pool), rule=rule_words(d, e.rule_version))
    if k == "assign":
        return join(say(_("%(who)s assigned %(customer)s from %(pool)s to %(owner)s"), who=who, customer=customer,
                        pool=_pool(e.from_pool), owner=n.person(e.to_owner)), reason(e.reason))
    if k == "lock":
        return join(say(_("%(who)s locked %(customer)s for %(owner)s: no release while locked"), who=who,
                        customer=customer, owner=n.person(e.to_owner)), reason(e.reason))
    if k == "unlock":
        text = say(_("%(who)s unlocked %(customer)s"), who=who, customer=customer)
        if d.get("release_at"):
            text = join(text, say(_("(release clock running again: back to the pool on %(at)s)"),
                                  at=when(d["release_at"])))
        return join(text, reason(e.reason))
    if k == "capacity":
        return join(say(_("%(who)s changed the capacity of %(rep)s by %(delta)s for %(days)s days (until %(until)s)"),
                        who=who, rep=n.person(e.subject_id), delta="%+d" % int(d.get("delta") or 0),
                        days=d.get("days", "?"), until=when(d.get("ends_at"))), reason(e.reason))
    if k == "stake":
        return say(_("%(who)s staked %(customer)s: it must be %(t)s%% complete by %(due)s (now %(c)s%%)"), who=who,
                   customer=customer, t=d.get("threshold", "?"), due=when(d.get("due")), c=d.get("completeness", "?"))
    if k == "stake_completed":
        return say(_("The stake of %(rep)s on %(customer)s is complete: %(c)s%% (%(t)s%% needed)"),
                   rep=n.person(e.to_owner), customer=customer, c=d.get("completeness", "?"), t=d.get("threshold", "?"))
    if k == "stake_lapsed":
        return say(_("The stake of %(rep)s on %(customer)s lapsed on %(due)s at %(c)s%% complete (%(t)s%% needed)"),
                   rep=n.person(e.from_owner), customer=customer, due=when(d.get("due")), c=d.get("completeness", "?"),
                   t=d.get("threshold", "?"))
    if k == "lead_routed" and d.get("rule"):  # the lead routing rule (models/leads.py)
        to = n.person(e.to_owner) if e.to_owner else _("nobody")
        text = say(_("%(who)s routed the lead for %(customer)s to %(to)s by routing rule v%(v)s (%(rule)s)"), who=who,
                   customer=customer, to=to, v=d.get("routing_version", 0), rule=label(LEAD_RULE_LABELS, d["rule"]))
        if d.get("skipped"):
            text = join(text, say(_("skipping %(names)s"), names=", ".join(
                f"{s.get('name', '?')} ({_(LEAD_SKIP_LABELS.get(s.get('why'), s.get('why') or ''))})"
                for s in d["skipped"][:5])))
        return join(text, reason(e.reason))
    if k == "lead_routed":
        to = n.person(e.to_owner) if e.to_owner else _("nobody")
        return join(say(_("%(who)s logged an inbound lead for %(customer)s, routed to %(to)s (%(via)s)"), who=who,
                        customer=customer, to=to, via=label(VIA, d.get("via"))), reason(e.reason))
    if k == "rules_applied":
        return say(_("Pool rules v%(v)s took effect: the release dates of %(n)s customers were recomputed"),
                   v=e.rule_version, n=d.get("customers", 0))
    if k in ("placed", "pool.placed"):
        return say(_("%(who)s placed %(customer)s in %(pool)s: %(why)s"), who=who, customer=customer,
                   pool=_pool(e.to_pool), why=label(PLACED, e.reason))
    if k == "transfer":
        to = n.person(e.to_owner) if e.to_owner else _pool(e.to_pool)
        text = say(_("%(who)s carried out transfer #%(id)s: %(customer)s from %(a)s to %(b)s"), who=who,
                   id=d.get("transfer_id", "?"), customer=customer, a=n.person(e.from_owner, _("nobody")), b=to)
        if d.get("clock_kept"):
            text = join(text, _("(same team: the release clock keeps running)"))
        if d.get("capacity_override"):
            text = join(text, say(_("(capacity overridden: %(r)s)"), r=d["capacity_override"]))
        return join(text, reason(e.reason))
    if k == "merge":
        return join(say(_("%(who)s merged %(loser)s into %(customer)s"), who=who, customer=customer,
                        loser=d.get("loser_name") or "#%s" % d.get("loser_id", "?")), reason(e.reason))
    if k == "conflict_ruled":
        return join(say(_("%(who)s ruled conflict case #%(id)s on %(customer)s between %(claimant)s and %(owner)s: "
                          "%(outcome)s"), who=who, id=d.get("case_id", "?"), customer=customer,
                        claimant=n.person(e.subject_id), owner=n.person(e.from_owner),
                        outcome=label(OUTCOME_LABELS, d.get("outcome"))), reason(e.reason))
    if k == "delegation_started":
        return join(say(_("%(who)s made %(delegate)s the delegate of %(absentee)s from %(a)s to %(b)s: release clocks "
                          "pause meanwhile (%(n)s release dates pushed back)"), who=who, delegate=n.person(e.to_owner),
                        absentee=n.person(e.from_owner), a=when(d.get("starts_on")), b=when(d.get("ends_on")),
                        n=d.get("release_dates_pushed", 0)), reason(e.reason))
    if k == "lead_sent_back":
        text = say(_("%(who)s sent the lead for %(customer)s back to marketing as still a prospect"), who=who,
                   customer=customer)
        if d.get("late"):
            text = join(text, _("(after the response deadline)"))
        return join(text, reason(e.reason))
    if k == "lead_escalated":
        return say(_("%(rep)s did not answer the lead for %(customer)s by %(due)s: it went to their manager to re-route"),
                   rep=n.person(e.subject_id, _("the rep")), customer=customer, due=when(d.get("due_at")))
    if k == "quality":
        grade = d.get("grade") or e.reason
        text = say(_("Quality rule v%(v)s: %(grade)s for %(rep)s, score %(score)s against %(threshold)s, from checks "
                     "%(checks)s"), v=e.rule_version, rep=n.person(e.subject_id), grade=label(QUALITY_GRADES, grade),
                   score=d.get("score", "?"), threshold=d.get("threshold", "?"),
                   checks=", ".join("#%s" % c for c in d.get("findings") or []) or "—")
        if d.get("delta"):
            text = join(text, say(_("(capacity %(delta)s for %(days)s days)"), delta="%+d" % int(d["delta"]),
                                  days=d.get("days", "?")))
        return text
    if k == "delegation_ended":
        return say(_("%(who)s ended the delegation of %(absentee)s to %(delegate)s: %(n)s release dates recomputed"),
                   who=who, absentee=n.person(e.from_owner), delegate=n.person(e.to_owner),
                   n=d.get("release_dates_recomputed", 0))
    return None


# ---- audit kinds with no sentence of their own domain -------------------------------------------

@extend.timeline("pool.released", "pool.forced_release")
def describe_release(e):
    d = e.data or {}
    pool = d.get("pool") if locale_code().startswith("zh") else d.get("pool_en")
    inputs = d.get("inputs") or {}
    if e.kind == "pool.forced_release" and inputs.get("days"):
        return say(_("the customer went back to %(pool)s by itself: %(rule)s"), pool=pool or _("the public pool"),
                   rule=rule_words(inputs, d.get("rule_version", 0)))
    return say(_("released the customer to %(pool)s: %(reason)s"), pool=pool or _("the public pool"),
               reason=d.get("reason", ""))


@extend.timeline("user.", "team.", "rules.", "settings.", "demo.", "delegation.", "transfer.leaver_started",
                 "service.settings_saved", "opportunity.settings_saved")
def describe_admin(e):
    n, d, k = extend.names(), e.data or {}, e.kind
    if k == "user.created":
        return say(_("created the user %(name)s (%(role)s)"), name=n.person(d.get("user_id"), d.get("username")),
                   role=label(ROLE_LABELS, d.get("role")))
    if k == "user.updated":
        return say(_("edited the user %(name)s: %(fields)s"), name=n.person(d.get("user_id")),
                   fields=", ".join(str(f).replace("_", " ") for f in (d.get("changes") or {})))
    if k == "user.activated":
        return say(_("activated the user %(name)s"), name=n.person(d.get("user_id")))
    if k == "user.deactivated":
        return say(_("deactivated the user %(name)s"), name=n.person(d.get("user_id")))
    if k == "team.created":
        return say(_("created the team %(name)s"), name=d.get("name", ""))
    if k == "team.updated":
        return say(_("edited the team %(name)s"), name=d.get("name", ""))
    if k == "rules.saved":
        return join(say(_("saved pool rules v%(v)s, in force from %(at)s"), v=d.get("version", "?"),
                        at=when(d.get("effective_from"))), reason(d.get("note")))
    if k.startswith("settings.custom_field_"):
        text = _("created the custom field %(key)s") if k.endswith("created") else _("edited the custom field %(key)s")
        return say(text, key=d.get("key", ""))
    if k == "demo.loaded":
        return say(_("loaded the demo data (%(n)s customers)"), n=d.get("customers", 0))
    if k == "delegation.created":
        return join(say(_("made %(delegate)s the delegate of %(absentee)s from %(a)s to %(b)s"),
                        delegate=n.person(d.get("delegate_id"), d.get("delegate")),
                        absentee=n.person(d.get("absentee_id"), d.get("absentee")), a=when(d.get("starts_on")),
                        b=when(d.get("ends_on"))), reason(d.get("reason")))
    if k == "delegation.cancelled":
        return say(_("ended the delegation of %(absentee)s to %(delegate)s"), absentee=n.person(d.get("absentee_id")),
                   delegate=n.person(d.get("delegate_id")))
    if k == "transfer.leaver_started":
        return join(say(_("started handing over the %(n)s customers of %(name)s (transfer #%(id)s)"),
                        n=d.get("customers", 0), name=n.person(d.get("user_id")), id=d.get("transfer_id", "?")),
                    reason(d.get("reason")))
    if k in ("service.settings_saved", "opportunity.settings_saved"):
        text = _("saved the service settings") if k.startswith("service") else _("saved the opportunity settings")
        return say(_("%(what)s (%(n)s changes)"), what=text, n=len(d.get("changes") or {}))
    return None


@extend.timeline("document.", "reorder.", "product.", "order.", "payment.")
def describe_business(e):
    d, k = e.data or {}, e.kind
    if k == "document.uploaded":
        return say(_("uploaded the document %(title)s (%(kind)s)"), title=d.get("title", ""),
                   kind=label(DOCUMENT_KIND_LABELS, d.get("document_kind")))
    if k == "document.version_uploaded":
        return say(_("uploaded version %(v)s of the document %(title)s"), v=d.get("version", "?"), title=d.get("title", ""))
    if k in ("reorder.cycle_accepted", "reorder.cycle_changed"):
        text = _("set up a reorder cycle for %(product)s: every %(every)s %(unit)s, next expected %(next)s") \
            if k.endswith("accepted") else _("changed the reorder cycle for %(product)s: every %(every)s %(unit)s, "
                                             "next expected %(next)s")
        return say(text, product=d.get("product", ""), every=d.get("every", "?"), unit=label(UNIT_LABELS, d.get("unit")),
                   next=when(d.get("next_expected_on")))
    if k == "reorder.cycle_ended":
        return say(_("ended the reorder cycle for %(product)s"), product=d.get("product", ""))
    if k == "reorder.next_expected":
        return say(_("an order for %(product)s came in: next expected %(next)s"), product=d.get("product", ""),
                   next=when(d.get("next_expected_on")))
    if k == "product.created":
        return say(_("added the product %(code)s"), code=d.get("code", ""))
    if k == "product.updated":
        return say(_("edited the product %(code)s"), code=d.get("code", ""))
    if k == "product.imported":
        return say(_("imported the catalogue: %(a)s products added, %(b)s updated"), a=d.get("created", 0),
                   b=d.get("updated", 0))
    if k == "order.created":
        return say(_("drafted order #%(id)s (%(total)s)"), id=d.get("order_id", "?"), total=money(d.get("total")))
    if k == "order.updated":
        return say(_("edited order #%(id)s (%(total)s)"), id=d.get("order_id", "?"), total=money(d.get("total")))
    if k == "order.signed":
        return say(_("signed order #%(id)s (%(total)s) on %(on)s"), id=d.get("order_id", "?"),
                   total=money(d.get("total")), on=when(d.get("ordered_on")))
    if k == "order.cancelled":
        return join(say(_("cancelled order #%(id)s"), id=d.get("order_id", "?")), reason(d.get("reason")))
    if k == "payment.scheduled":
        return say(_("scheduled a payment of %(amount)s on order #%(id)s, due %(due)s"), amount=money(d.get("amount")),
                   id=d.get("order_id", "?"), due=when(d.get("due_on")))
    if k == "payment.received":
        return say(_("received %(amount)s on order #%(id)s (%(method)s) on %(on)s"), amount=money(d.get("amount")),
                   id=d.get("order_id", "?"), method=label(orders_mod.PAYMENT_METHOD_LABELS, d.get("method")),
                   on=when(d.get("received_on")))
    return None


@extend.timeline("project.", "milestone.")
def describe_project(e):
    n, d, k = extend.names(), e.data or {}, e.kind
    name = d.get("name", "")
    role = lambda key: label(projects_mod.TEAM_ROLE_LABELS, d.get(key))  # noqa: E731
    if k.startswith("project.criterion_"):
        return _("created a project criterion") if k.endswith("created") else _("edited a project criterion")
    if k == "project.proposed":
        return say(_("proposed the project %(name)s (budget %(budget)s)"), name=name, budget=money(d.get("budget")))
    if k == "project.approved":
        return join(say(_("approved the project %(name)s"), name=name), reason(d.get("reason")))
    if k == "project.rejected":
        return join(say(_("rejected the project %(name)s"), name=name), reason(d.get("reason")))
    if k == "project.member_added":
        return say(_("added %(user)s to the project team as %(role)s"), user=n.person(d.get("user_id"), d.get("user")),
                   role=role("role"))
    if k == "project.member_role_changed":
        return say(_("changed the project role of %(user)s from %(a)s to %(b)s"),
                   user=n.person(d.get("user_id"), d.get("user")), a=role("from_role"), b=role("to_role"))
    if k == "project.member_removed":
        return say(_("removed %(user)s from the project team"), user=n.person(d.get("user_id"), d.get("user")))
    if k in ("project.cost_added", "project.cost_removed"):
        text = _("added a %(kind)s cost of %(amount)s (%(category)s)") if k.endswith("added") else \
            _("removed a %(kind)s cost of %(amount)s (%(category)s)")
        return say(text, kind=label(projects_mod.COST_KIND_LABELS, d.get("cost_kind")), amount=money(d.get("amount")),
                   category=label(projects_mod.COST_CATEGORY_LABELS, d.get("category")))
    if k == "project.contract_signed":
        return say(_("signed the contract of the project %(name)s (%(amount)s), running %(a)s to %(b)s"), name=name,
                   amount=money(d.get("amount")), a=when(d.get("contract_start")), b=when(d.get("contract_end")))
    if k == "milestone.added":
        return say(_("added the milestone %(name)s, due %(due)s"), name=name, due=when(d.get("due_on")))
    if k == "milestone.updated":
        return say(_("edited the milestone %(name)s"), name=name)
    if k == "milestone.status_changed":
        status = lambda key: label(projects_mod.MILESTONE_STATUS_LABELS, d.get(key))  # noqa: E731
        return say(_("moved the milestone %(name)s from %(a)s to %(b)s"), name=name, a=status("from_status"),
                   b=status("to_status"))
    return None


# What the readable fallback calls a domain, and the inputs it lists (a kind no describer knows).
extend.event_labels({
    "customer.": N_("Customer file"), "pool.": N_("Pool"), "ledger.": N_("Pool ledger"), "service.": N_("Service"),
    "care.": N_("Care"), "opportunity.": N_("Opportunity"), "project.": N_("Project"), "milestone.": N_("Milestone"),
    "order.": N_("Order"), "payment.": N_("Payment"), "product.": N_("Product"), "reorder.": N_("Reorder"),
    "transfer.": N_("Transfer"), "conflict.": N_("Conflict case"), "delegation.": N_("Delegation"),
    "document.": N_("Document"), "user.": N_("User"), "team.": N_("Team"), "rules.": N_("Pool rules"),
    "settings.": N_("Settings"), "contact.": N_("Contact"), "followup.": N_("Follow-up"), "demo.": N_("Demo data"),
})
extend.input_labels({"reason": N_("Reason"), "note": N_("Note"), "name": N_("Name"), "stage": N_("Stage"),
                     "days": N_("Days"), "since": N_("Since"), "rule": N_("Rule"), "amount": N_("Amount"),
                     "customers": N_("Customers"), "version": N_("Version"), "via": N_("Via")})
extend.event_labels({L + kind: text for kind, text in LEDGER_LABELS.items()})


# ---- marketing, import and export, value settings: audit rows without a customer -----------------

@extend.timeline("campaign.", "customer.exported", "export.", "import.", "lead.source_", "value.strategy_saved")
def describe_marketing(e):
    d, k = e.data or {}, e.kind
    if k == "campaign.created":
        return say(_("created the campaign %(name)s"), name=d.get("name", ""))
    if k == "campaign.updated":
        return say(_("edited the campaign %(name)s: %(fields)s"), name=d.get("name", ""),
                   fields=", ".join(str(f).replace("_", " ") for f in (d.get("changes") or {})) or "—")
    if k == "customer.exported":
        return say(_("exported %(n)s customers of the list as %(format)s"), n=d.get("rows", 0),
                   format=str(d.get("format", "")).upper())
    if k == "export.limits_changed":
        changes = d.get("changes") or {}
        return say(_("changed the export row limits: %(what)s"), what="; ".join(
            "%s %s → %s" % (label(ROLE_LABELS, role), before, after) for role, (before, after) in changes.items()) or "—")
    if k == "import.uploaded":
        return say(_("uploaded %(file)s for import #%(id)s"), file=d.get("file_name", ""), id=d.get("job_id", "?"))
    if k == "import.started":
        return say(_("started import #%(id)s of %(file)s"), file=d.get("file_name", ""), id=d.get("job_id", "?"))
    if k == "import.finished":
        return say(_("import #%(id)s of %(file)s finished: %(created)s created, %(updated)s updated, %(skipped)s "
                     "skipped, %(rejected)s rejected"), id=d.get("job_id", "?"), file=d.get("file_name", ""),
                   created=d.get("created", 0), updated=d.get("updated", 0), skipped=d.get("skipped", 0),
                   rejected=d.get("rejected", 0))
    if k in ("lead.source_created", "lead.source_saved"):
        text = _("created the web form source %(name)s") if k.endswith("created") else _("edited the web form source %(name)s")
        return say(text, name=d.get("name", ""))
    if k == "value.strategy_saved":
        return say(_("saved the tier strategy %(title)s"), title=d.get("title", ""))
    return None


@extend.timeline("quality.")
def describe_quality(e):
    """Quality checks on the customer's timeline (the complaint itself is not there: its author stays hidden)."""
    d = e.data or {}
    if e.kind == "quality.checked":
        return say(_("Quality check #%(id)s (%(source)s) recorded the file as %(outcome)s%(fields)s"), id=d.get("check_id"),
                   source=label(QUALITY_SOURCES, d.get("source")), outcome=label(QUALITY_OUTCOMES, d.get("outcome")),
                   fields=say(_(": %(fields)s"), fields=d["fields"]) if d.get("fields") else "")
    if e.kind == "quality.responded":
        return say(_("The owner answered quality check #%(id)s"), id=d.get("check_id"))
    if e.kind == "quality.complaint_filed":
        return say(_("Complaint #%(id)s filed about customer #%(customer)s (%(field)s)"), id=d.get("check_id"),
                   customer=d.get("customer_id"), field=d.get("field"))
    if e.kind == "quality.sample_drawn":
        return say(_("Random sample #%(id)s for %(month)s drawn: %(n)s files per rep, seed %(seed)s, %(picked)s checks"),
                   id=d.get("sample_id"), month=d.get("month"), n=d.get("per_rep"), seed=d.get("seed"),
                   picked=d.get("picked"))
    if e.kind == "quality.rules_run":
        return say(_("Directed quality rules run by hand: %(n)s new checks"), n=d.get("created", 0))
    if e.kind == "quality.rule_saved":
        return say(_("Quality rule v%(v)s saved, in force from %(at)s"), v=d.get("version"), at=when(d.get("effective_from")))
    return None
