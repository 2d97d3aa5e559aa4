"""The template helpers that keep what a page repeats (views/__init__.py `_template_url_for`, views/i18n.py
`template_gettext` and `PerLanguage`) give exactly what the slow way gives, in both languages."""
import pytest
from flask import render_template_string, url_for
from flask_babel import force_locale
from markupsafe import Markup

from models.customers import STAGES

IDS = (1, 7, 42, 9_007_199_254_740_993)


def _id_rules(app):
    """Every route whose arguments are all <int:…>."""
    for rule in app.url_map.iter_rules():
        converters = rule._converters
        if rule.arguments and all(type(c).__name__ == "_RowIdConverter" for c in converters.values()):
            yield rule


@pytest.mark.parametrize("script_root", ["", "/crm"])
def test_links_with_ids_are_built_as_flask_builds_them(app, script_root):
    from views import _template_url_for

    rules = list(_id_rules(app))
    assert len(rules) > 50  # customers.show, edits, tabs, …
    with app.test_request_context("/", environ_base={"SCRIPT_NAME": script_root}):
        for rule in rules:
            names = sorted(rule.arguments)
            for i, value in enumerate(IDS):
                values = {name: value + n for n, name in enumerate(names)}
                assert _template_url_for(rule.endpoint, **values) == url_for(rule.endpoint, **values), rule
                # an id that is not the route's own goes to the query string, as Flask puts it
                extra = {**values, "page": i}
                assert _template_url_for(rule.endpoint, **extra) == url_for(rule.endpoint, **extra), rule
                # with words next to the ids: quoted as Flask quotes them, each word its own shape
                for word in ("timeline", "西装 & co", "a/b?c=d#e", "{x}", "100%", ""):
                    worded = {**values, "tab": word}
                    assert _template_url_for(rule.endpoint, **worded) == url_for(rule.endpoint, **worded), rule
        # what is not an id or a short word is built by Flask (long text, negative numbers, booleans, anchors)
        long = "西装" * 30 + "7340000"
        assert _template_url_for("customers.index", q=long) == url_for("customers.index", q=long)
        assert _template_url_for("customers.index", q="734000 x") == url_for("customers.index", q="734000 x")
        assert _template_url_for("customers.index", q="西装 & co") == url_for("customers.index", q="西装 & co")
        assert _template_url_for("customers.index", after=-3) == url_for("customers.index", after=-3)
        assert _template_url_for("customers.show", customer_id=5, _anchor="x") == url_for(
            "customers.show", customer_id=5, _anchor="x")
        assert _template_url_for("customers.index", flag=True) == url_for("customers.index", flag=True)


def test_template_text_is_jinja_newstyle_gettext(app):
    from jinja2 import Environment

    from babel.messages.pofile import read_po

    from views import i18n

    with (i18n.SOURCE / "zh_CN" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalogue = [m.id for m in read_po(f) if isinstance(m.id, str) and m.id]
    with app.test_request_context():
        for code in ("zh_CN", "en"):
            with force_locale(code):
                speech = i18n._speech()
                reference = Environment(extensions=["jinja2.ext.i18n"], autoescape=True)
                reference.install_gettext_callables(speech.translations.ugettext, speech.translations.ungettext,
                                                    newstyle=True)
                assert len(catalogue) > 100
                for message in catalogue:
                    if "%(" in message:
                        continue
                    expected = reference.from_string("{{ _(m) }}").render(m=message)
                    assert render_template_string("{{ _(m) }}", m=message) == expected, message
                    assert isinstance(i18n.template_gettext(message), Markup)
                # arguments are escaped, the catalogue's text is not; %% is written as %
                expected = reference.from_string('{{ _("%(n)s days ago", n=v) }}').render(v="<b>")
                assert render_template_string('{{ _("%(n)s days ago", n=v) }}', v="<b>") == expected
                assert "&lt;b&gt;" in expected
                plural = '{{ ngettext("%(num)s customer", "%(num)s customers", n) }}'
                for n in (1, 2, 1000):
                    assert render_template_string(plural, n=n) == reference.from_string(plural).render(n=n)


def test_badges_are_kept_per_language(app):
    page = ('{% from "_macros.html" import stage_badge, completeness_bar %}'
            '{% for s in stages %}{{ stage_badge(s) }}|{{ stage_badge.macro(s) }}#{% endfor %}'
            '{% for v in (0, 49, 50, 79, 80, 100) %}{{ completeness_bar(v) }}|{{ completeness_bar.macro(v) }}#{% endfor %}')
    seen = {}
    with app.test_request_context():
        for code in ("zh_CN", "en", "zh_CN"):
            with force_locale(code):
                html = render_template_string(page, stages=STAGES)
            for line in html.strip("#").split("#"):
                kept, made = line.split("|")
                assert kept == made  # the kept HTML is the macro's own, in this language
            seen.setdefault(code, html)
            assert seen[code] == html
    assert seen["zh_CN"] != seen["en"]


def test_template_calls_answer_as_jinjas_own_context_does(app):
    """views._TemplateContext calls plain functions and methods directly; whatever asks for the context, the
    evaluation context or the environment (or is not a plain function) still goes Jinja's way."""
    from jinja2 import pass_context, pass_environment, pass_eval_context
    from jinja2.runtime import Context

    from views import _TemplateContext

    env = app.jinja_env
    assert env.context_class is _TemplateContext

    @pass_context
    def who(context, x):
        return f"{context.get('name')}:{x}"

    @pass_environment
    def envs(environment):
        return hasattr(environment, "from_string")  # an Environment, injected

    @pass_eval_context
    def autoescaping(eval_ctx):
        return eval_ctx.autoescape

    class Caller:
        @pass_context
        def __call__(self, context):
            return context.get("name")

    def stops():
        raise StopIteration

    source = ("{{ who(1) }}|{{ envs() }}|{{ autoescaping() }}|{{ caller() }}|{{ plain(2, b=3) }}|{{ text.upper() }}|"
              "{{ stops() }}|{% macro m(a) %}[{{ a }}]{% endmacro %}{{ m(4) }}|{{ '%s-%s'.format(5, 6) }}")
    values = dict(name="n", who=who, envs=envs, autoescaping=autoescaping, caller=Caller(), text="ab",
                  plain=lambda a, b=0: a + b, stops=stops)
    ours = env.from_string(source).render(**values)
    assert ours == "n:1|True|True|n|5|AB||[4]|%s-%s"
    class Plain(type(env)):
        context_class = Context
    reference = Plain(app, autoescape=True).from_string(source).render(**values)
    assert ours == reference
