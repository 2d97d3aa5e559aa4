"""Pool cleansing over the web (issue 17 item 4): the campaigns (an admin starts one over a pool and a filter),
a campaign's page with its progress, the rankings per team and region and the task list, a task classified
keep / doubtful / junk, the quarantine restored by an admin, and the bulk normalisation tools."""
from flask import Blueprint, render_template, request, url_for
from flask_login import current_user

from models import cleansing as cm
from models.customer_tables import STAGES, Contact, Customer, Industry
from models.errors import NotFound
from models.keyset import keyset_page
from models.permissions import can, require
from models.pools import Pool
from models.user_tables import Region
from views import extend
from views import htmx as hx
from views.forms import error_line, field_errors
from views.i18n import gettext as _
from views.i18n import label, locale_code

bp = Blueprint("cleansing", __name__)
PAGE = 50


def _campaign(campaign_id):
    campaign = cm.CleansingCampaign.get_or_none(cm.CleansingCampaign.id == campaign_id)
    if campaign is None or (campaign.status != "open" and not can(current_user, "cleansing.start")):
        raise NotFound()
    return campaign


def _form_context(form=None, errors=None):
    loc = locale_code()
    return dict(pools=[(p.id, p.label(loc)) for p in Pool.select().order_by(Pool.id)],
                regions=list(Region.select().order_by(Region.id)), industries=list(Industry.select().order_by(Industry.id)),
                form=form or {"min_fields": list(cm.DEFAULT_MIN_FIELDS), "split": "team"}, errors=errors or {},
                stages=STAGES, loc=loc)


def _index_page(form=None, errors=None, status=200):
    campaigns = list(cm.campaigns_for(current_user).limit(50))
    return render_template("cleansing/index.html", campaigns=campaigns, **_form_context(form, errors)), status


@bp.route("/cleansing", methods=["GET", "POST"])
def index():
    require(current_user, "cleansing.view")
    if request.method == "GET":
        return _index_page()
    require(current_user, "cleansing.start")

    def invalid(exc):
        form = request.form.to_dict()
        form["min_fields"] = request.form.getlist("min_fields")
        return _index_page(form, field_errors(exc, joined=True))

    return hx.run_verb(lambda: cm.start_campaign(current_user, request.form),
                       done=lambda c: hx.redirect(url_for("cleansing.campaign", campaign_id=c.id)), invalid=invalid)


@bp.get("/cleansing/<int:campaign_id>")
def campaign(campaign_id):
    require(current_user, "cleansing.view")
    c = _campaign(campaign_id)
    status = request.args.get("status") if request.args.get("status") in ("open", "done") else "open"
    verdict = request.args.get("verdict") if request.args.get("verdict") in cm.VERDICTS else ""
    mine = request.args.get("mine") == "1"
    found = keyset_page(cm.tasks(current_user, c, status, verdict, mine), [cm.CleansingTask.id],
                        after=request.args.get("after"), limit=PAGE)
    return hx.fragment_or_page("cleansing/_rows.html", "cleansing/campaign.html", c=c, rows=found.rows,
                               next_after=found.next, status=status, verdict=verdict, mine=mine,
                               progress=cm.progress(c), normalised=request.args.get("normalised"), loc=locale_code())


@bp.post("/cleansing/<int:campaign_id>/normalise")
def normalise(campaign_id):
    require(current_user, "cleansing.start")
    c = _campaign(campaign_id)
    counts = cm.normalise(current_user, c)
    return hx.redirect(url_for("cleansing.campaign", campaign_id=c.id,
                               normalised=f"{counts['phones']}-{counts['credit_codes']}"))


@bp.post("/cleansing/<int:campaign_id>/close")
def close(campaign_id):
    require(current_user, "cleansing.start")
    c = _campaign(campaign_id)
    return hx.run_verb(lambda: cm.close_campaign(current_user, c),
                       done=lambda c: hx.redirect(url_for("cleansing.campaign", campaign_id=c.id)),
                       refused=lambda text: hx.redirect(url_for("cleansing.campaign", campaign_id=c.id)))


def _task(task_id):
    task = cm.get_task(task_id)
    require(current_user, "cleansing.see_task", task)
    return task


def _task_page(task, form=None, errors=None, status=200):
    c = cm.CleansingCampaign.get_by_id(task.campaign_id)
    customer = Customer.get_or_none(Customer.id == task.customer_id)
    contacts = list(Contact.select().where(Contact.customer == task.customer_id).order_by(Contact.id)) if customer else []
    return render_template("cleansing/task.html", task=task, c=c, customer=customer, contacts=contacts,
                           form=form or {}, errors=errors or {}, holder=cm.holder_text(task),
                           works=can(current_user, "cleansing.work", task), loc=locale_code(),
                           industries=list(Industry.select().where(Industry.active == True).order_by(Industry.id))), status  # noqa: E712


@bp.route("/cleansing/tasks/<int:task_id>", methods=["GET", "POST"])
def task(task_id):
    t = _task(task_id)
    if request.method == "GET":
        return _task_page(t)
    values = {f: request.form.get(f) for f in cm.MIN_FIELDS}
    return hx.run_verb(
        lambda: cm.classify_record(current_user, t, request.form.get("verdict"), values, request.form.get("note"),
                                   request.form.getlist("left")),
        done=lambda t: hx.redirect(url_for("cleansing.campaign", campaign_id=t.campaign_id, classified=t.id)),
        invalid=lambda exc: _task_page(t, request.form, field_errors(exc, joined=True)),
        refused=lambda text: _task_page(t, request.form, {"verdict": text}, 409))


@bp.post("/cleansing/tasks/<int:task_id>/restore")
def restore(task_id):
    require(current_user, "cleansing.restore")
    t = _task(task_id)
    return hx.run_verb(
        lambda: cm.restore_record(current_user, t, request.form.get("reason")),
        done=lambda t: hx.redirect(url_for("cleansing.task", task_id=t.id)),
        invalid=lambda exc: _task_page(t, request.form, {"reason": error_line(exc)}),
        refused=lambda text: _task_page(t, request.form, {"reason": text}, 409))


@extend.timeline("cleansing.")
def describe(e):
    d = e.data or {}
    campaign = d.get("campaign_id")
    if e.kind == "cleansing.started":
        return _("started pool cleansing campaign #%(campaign)s over %(total)s records", campaign=campaign,
                 total=d.get("total", 0))
    if e.kind == "cleansing.classified":
        return _("classified the record in cleansing campaign #%(campaign)s: %(verdict)s", campaign=campaign,
                 verdict=label(cm.VERDICT_LABELS, d.get("verdict")))
    if e.kind == "cleansing.completed":
        return _("completed the record's minimum fields in cleansing campaign #%(campaign)s: %(fields)s",
                 campaign=campaign, fields=", ".join(sorted(d.get("changes") or {})))
    if e.kind == "cleansing.contacts_left":
        return _("marked contacts as having left: %(names)s", names=", ".join(d.get("contacts") or []))
    if e.kind == "cleansing.restored":
        return _("restored the record from quarantine: %(reason)s", reason=d.get("reason", ""))
    if e.kind == "cleansing.normalised":
        return _("normalised cleansing campaign #%(campaign)s: %(phones)s phones formatted, %(codes)s invalid "
                 "credit codes flagged", campaign=campaign, phones=d.get("phones", 0), codes=d.get("credit_codes", 0))
    if e.kind == "cleansing.closed":
        return _("closed pool cleansing campaign #%(campaign)s", campaign=campaign)
    return None


extend.template_globals(CLEANSING_VERDICTS=cm.VERDICTS, CLEANSING_VERDICT_LABELS=cm.VERDICT_LABELS,
                        CLEANSING_SPLITS=cm.SPLITS, CLEANSING_SPLIT_LABELS=cm.SPLIT_LABELS,
                        CLEANSING_MIN_FIELDS=cm.MIN_FIELDS, CLEANSING_MIN_FIELD_LABELS=cm.MIN_FIELD_LABELS)
