"""HTML pages from Jinja2 templates (package data in ``templates/``), autoescaping on.

Every value put into a page is escaped unless it is :class:`markupsafe.Markup`, by the HTML
dialect's one escape (:func:`lssbench.report.tables.html_escape`, which first makes the text
clean: no control characters, undecodable bytes or bidirectional overrides reach the page);
only the SVG strings of :mod:`lssbench.report.plots` are marked safe (matplotlib escapes
the text inside them). A link is made only of an ``http(s)`` URL (:func:`safe_url`).
Pages carry no script and load nothing: CSS is inline, figures are inline SVG.
"""

from __future__ import annotations

import datetime as _dt
import functools
import os
from urllib.parse import urlsplit

from lssbench import __version__
from lssbench.report.tables import fmt

GENERATOR = f"lssbench {__version__}"


def safe_url(value) -> str | None:
    """``value`` when it is an absolute http(s) URL without spaces or control characters, else None."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in text):
        return None
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    return text if parts.scheme.lower() in ("http", "https") and parts.netloc else None


def build_date() -> str:
    """UTC date of the build (a day: pages built twice the same day are identical);
    ``$SOURCE_DATE_EPOCH`` fixes it for reproducible pages."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = (_dt.datetime.fromtimestamp(int(epoch), _dt.timezone.utc) if epoch and epoch.isdigit()
            else _dt.datetime.now(_dt.timezone.utc))
    return when.strftime("%Y-%m-%d")


@functools.lru_cache(maxsize=1)
def environment():
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("lssbench.report", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined, finalize=_html_text,
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["num"] = fmt
    env.filters["safe_url"] = safe_url
    env.globals.update(generator=GENERATOR)
    return env


def _html_text(value):
    """Every ``{{ value }}`` of a page goes through the HTML dialect's one escape
    (:func:`lssbench.report.tables.html_escape`: clean text, then HTML-escaped), unless Markup."""
    from markupsafe import Markup

    from lssbench.report.tables import html_escape

    if isinstance(value, str) and not isinstance(value, Markup):
        return Markup(html_escape(value))
    return value


def svg(text: str):
    """Mark an SVG string made by :mod:`lssbench.report.plots` as safe to inline."""
    from markupsafe import Markup

    return Markup(text)


def render(template: str, **context) -> str:
    """Render ``templates/<template>`` with ``context`` (values escaped unless Markup)."""
    return environment().get_template(template).render(build_date=build_date(), **context)
