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

_env = Environment(
    loader=PackageLoader("app.console", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def local(value: Any, zone: str) -> str:
    """An ISO timestamp in the business's zone, to the minute ("-" when absent)."""
    if not value:
        return "-"
    at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return at.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z")


_env.filters["local"] = local
_env.filters["colour"] = colour


def render(name: str, data: dict[str, Any], *, tz: str, csrf: str, business: str) -> str:
    """One page (`name`.html) from its data."""
    template = _env.get_template(f"{name}.html")
    return template.render(data=data, tz=tz, csrf=csrf, business=business, page=name)


def login(message: str = "", next_path: str = "/console") -> str:
    return _env.get_template("login.html").render(message=message, next_path=next_path)
