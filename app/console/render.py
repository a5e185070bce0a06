"""The console's HTML: Jinja2 templates (app/console/templates/), autoescaped, no script.

Contract: `render(name, data, tz=..., csrf=..., business=...)` renders one page from the same
dict its JSON answer returns; every time is shown in the business time zone (`local`), every
outcome in its fixed colour (`colour`, app.console.outcomes); an empty list renders
"no data yet", never a blank table. `login(message, next_path)` is the sign-in form.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from app.console.outcomes import colour


def template_env(package: str) -> Environment:
    """The Jinja2 environment of `package`'s templates/ folder, as the console and the status
    page both render: autoescaped (strings too), undefined names an error, the `colour`
    filter (one colour per outcome) installed."""
    env = Environment(
        loader=PackageLoader(package, "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["colour"] = colour
    return env


def in_zone(value: Any, zone: str) -> str | None:
    """An ISO timestamp (or datetime) in the business's zone, to the minute; None if absent."""
    if not value:
        return None
    at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return at.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z")


def local(value: Any, zone: str) -> str:
    """`in_zone`, shown as "-" when absent."""
    return in_zone(value, zone) or "-"


_env = template_env("app.console")
_env.filters["local"] = local


def render(name: str, data: dict[str, Any], *, tz: str, csrf: str, business: str) -> str:
    """One page (`name`.html) from its data."""
    template = _env.get_template(f"{name}.html")
    return template.render(data=data, tz=tz, csrf=csrf, business=business, page=name)


def login(message: str = "", next_path: str = "/console") -> str:
    return _env.get_template("login.html").render(message=message, next_path=next_path)
