"""The to-do centre (issue 16 item 6): /todo lists what every registered source (models/todo.py) has for the
user today, each item one click from its action; /todo/badge is the header's count, loaded with the page."""
from flask import Blueprint, render_template, url_for
from flask_login import current_user

from models import clock
from models import todo
from models.permissions import require

bp = Blueprint("todo", __name__)


def _link(item):
    return url_for(item["endpoint"], **item.get("args", {}))


@bp.get("/todo")
def index():
    require(current_user, "todo.view")
    now = clock.now()
    groups = todo.gather(current_user, now)
    return render_template("todo/index.html", groups=groups, link=_link, now=now, today=clock.today())


@bp.get("/todo/badge")
def badge():
    require(current_user, "todo.view")
    return render_template("todo/_badge.html", n=todo.total(current_user))
