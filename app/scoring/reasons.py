"""Human reasons for a score: the three features that move a lead's log-odds most (relative
to the average lead), phrased from the lead's own data ("clicked the tune-up email
yesterday", "answered a call before"). Selection is vectorised; only the chosen three are
put into words."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray

from app.scoring.model import Columns, Floats

MIN_IMPACT = 0.05  # log-odds; weaker effects are not worth a reason


def ago(when: Any, now: datetime) -> str:
    """'today', 'yesterday', '3 days ago', '2 weeks ago' (from a datetime or a day count)."""
    days = (now - when).total_seconds() / 86400 if isinstance(when, datetime) else float(when)
    if days < 1:
        return "today"
    if days < 2:
        return "yesterday"
    if days < 14:
        return f"{int(days)} days ago"
    return f"{int(days // 7)} weeks ago"


def _n(value: Any) -> int:
    return 0 if value is None or value != value else int(value)  # NaN != NaN


def _clicks(n: Any, campaign: Any, at: Any, now: datetime) -> str:
    if _n(n) == 0:
        return "never clicked an email"
    name = f"the {campaign} email" if campaign else "an email"
    when = f" {ago(at, now)}" if at is not None else ""
    return f"clicked {name}{when}" + (f" ({_n(n)} clicks)" if _n(n) > 1 else "")


def _replies(n: Any, at: Any, now: datetime) -> str:
    if _n(n) == 0:
        return "never replied by SMS"
    return "replied by SMS" + (f" {ago(at, now)}" if at is not None else "")


def _answered(n: Any, now: datetime) -> str:
    count = _n(n)
    if count == 0:
        return "never answered a call"
    return "answered a call before" if count == 1 else f"answered {count} calls before"


def _recency(days: Any, now: datetime) -> str:
    return "never engaged yet" if days is None or days != days else f"last engaged {ago(days, now)}"


def _count(some: str, none: str) -> Callable[[Any, datetime], str]:
    def render(value: Any, now: datetime) -> str:
        n = _n(value)
        return none if n == 0 else some.format(n=n, s="" if n == 1 else "s")

    return render


def _flag(yes: str, no: str) -> Callable[[Any, datetime], str]:
    return lambda value, now: yes if _n(value) else no


def _category(label: str) -> Callable[[Any, datetime], str]:
    return lambda value, now: f"{label} {value or 'unknown'}"


@dataclass(frozen=True)
class Phrase:
    """How to word one feature group: the columns it quotes and a renderer of their values."""

    columns: tuple[str, ...]
    render: Callable[..., str]


PHRASES: dict[str, Phrase] = {
    "clicks": Phrase(("clicks", "last_click_campaign", "last_click_at"), _clicks),
    "sms_replies": Phrase(("sms_replies", "last_reply_at"), _replies),
    "calls_answered": Phrase(("calls_answered",), _answered),
    "days_since_engagement": Phrase(("days_since_engagement",), _recency),
    "emails_opened": Phrase(
        ("emails_opened",), _count("opened {n} email{s}", "opened no email yet")
    ),
    "emails_sent": Phrase(("emails_sent",), _count("{n} email{s} sent", "no email sent yet")),
    "sms_sent": Phrase(("sms_sent",), _count("{n} text{s} sent", "no text sent yet")),
    "calls_unanswered": Phrase(
        ("calls_unanswered",), _count("missed {n} call{s}", "missed no call")
    ),
    "calls_voicemail": Phrase(
        ("calls_voicemail",), _count("{n} call{s} went to voicemail", "no voicemail")
    ),
    "lead_age_days": Phrase(("lead_age_days",), lambda d, now: f"lead added {ago(d, now)}"),
    "days_since_enquiry": Phrase(("days_since_enquiry",), lambda d, now: f"enquired {ago(d, now)}"),
    "email_ok": Phrase(("email_ok",), _flag("reachable by email", "not reachable by email")),
    "sms_ok": Phrase(("sms_ok",), _flag("reachable by SMS", "not reachable by SMS")),
    "call_ok": Phrase(("call_ok",), _flag("can be called", "cannot be called")),
    "industry": Phrase(("industry",), _category("industry")),
    "source": Phrase(("source",), _category("came from")),
    "state": Phrase(("state",), _category("in")),
}


def phrase(group: str) -> Phrase:
    return PHRASES.get(group) or Phrase((group,), _category(group))


def top_reasons(contrib: Floats, k: int = 3) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """Per row, the k groups of largest |impact| (descending) and whether each is strong
    enough to be stated. Vectorised."""
    k = min(k, contrib.shape[1])
    order = np.argsort(-np.abs(contrib), axis=1, kind="stable")[:, :k]
    strong = np.abs(np.take_along_axis(contrib, order, axis=1)) >= MIN_IMPACT
    return order.astype(np.int64), strong


def _single(p: Phrase, values: NDArray[Any], now: datetime, prefix: str) -> NDArray[Any]:
    """Texts of a one-column phrase, rendered once per distinct value (floats floored: the
    wording only uses whole counts and days)."""
    if values.dtype.kind == "f":
        values = np.floor(values)
    uniq, inverse = np.unique(values, return_inverse=True)
    rendered = np.array([prefix + p.render(v, now) for v in uniq.tolist()], dtype=object)
    return np.asarray(rendered[inverse.reshape(-1)], dtype=object)


def _days(values: list[Any], now: datetime) -> list[Any]:
    """Datetimes as whole days ago (what `ago` words), so equal wordings share a cache key."""
    return [(now - v).days if isinstance(v, datetime) else v for v in values]


def _multi(p: Phrase, cols: Columns, rows: NDArray[Any], now: datetime, prefix: str) -> list[str]:
    """Texts of a phrase quoting several columns, cached by the values quoted."""
    lists = [_days(np.asarray(cols[c])[rows].tolist(), now) if c in cols else [None] * len(rows)
             for c in p.columns]  # fmt: skip
    cache: dict[tuple[Any, ...], str] = {}
    out = []
    for values in zip(*lists, strict=True):
        text = cache.get(values)
        if text is None:
            text = cache[values] = prefix + p.render(*values, now)
        out.append(text)
    return out


def reason_texts(
    groups: list[str], cols: Columns, contrib: Floats, now: datetime, k: int = 3
) -> list[list[str]]:
    """Up to k reasons per row, strongest first; a negative one is marked 'but'. Worded per
    feature group and sign over all rows at once, not lead by lead."""
    order, strong = top_reasons(contrib, k)
    positive = np.take_along_axis(contrib, order, axis=1) > 0
    texts = np.full(order.shape, None, dtype=object)
    for j in np.unique(order).tolist():
        p = phrase(groups[j])
        for sign, prefix in ((True, ""), (False, "but ")):
            rows, slots = np.nonzero((order == j) & strong & (positive == sign))
            if not len(rows):
                continue
            if len(p.columns) == 1 and p.columns[0] in cols:
                values = np.asarray(cols[p.columns[0]])[rows]
                texts[rows, slots] = _single(p, values, now, prefix)
            else:
                texts[rows, slots] = np.array(_multi(p, cols, rows, now, prefix), dtype=object)
    out: list[list[str]] = texts.tolist()
    for i in np.nonzero(~strong.all(axis=1))[0].tolist():  # only rows with weak reasons
        out[i] = [t for t in out[i] if t is not None]
    return out
