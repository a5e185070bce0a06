"""Human reasons for a score: the three features that move a lead's log-odds most (relative
to the average lead), phrased from the lead's own data ("clicked the tune-up email
yesterday", "answered a call before"). Selection is vectorised; only the chosen three are
put into words."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray

from app.scoring.model import Columns, Floats

MIN_IMPACT = 0.05  # log-odds; weaker effects are not worth a reason
Describe = Callable[[Columns, int, datetime], str]


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


def _n(cols: Columns, name: str, i: int) -> int:
    value = cols[name][i]
    return 0 if value != value else int(value)  # NaN != NaN


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _clicks(cols: Columns, i: int, now: datetime) -> str:
    n = _n(cols, "clicks", i)
    if n == 0:
        return "never clicked an email"
    campaign, at = cols.get("last_click_campaign"), cols.get("last_click_at")
    name = f"the {campaign[i]} email" if campaign is not None and campaign[i] else "an email"
    when = f" {ago(at[i], now)}" if at is not None and at[i] is not None else ""
    return f"clicked {name}{when}" + (f" ({n} clicks)" if n > 1 else "")


def _replies(cols: Columns, i: int, now: datetime) -> str:
    n = _n(cols, "sms_replies", i)
    at = cols.get("last_reply_at")
    if n == 0:
        return "never replied by SMS"
    return "replied by SMS" + (f" {ago(at[i], now)}" if at is not None and at[i] else "")


def _answered(cols: Columns, i: int, now: datetime) -> str:
    n = _n(cols, "calls_answered", i)
    if n == 0:
        return "never answered a call"
    return "answered a call before" if n == 1 else f"answered {n} calls before"


def _recency(cols: Columns, i: int, now: datetime) -> str:
    days = cols["days_since_engagement"][i]
    return "never engaged yet" if days != days else f"last engaged {ago(days, now)}"


def _count(name: str, some: str, none: str) -> Describe:
    def describe(cols: Columns, i: int, now: datetime) -> str:
        n = _n(cols, name, i)
        return none if n == 0 else some.format(n=n, s="" if n == 1 else "s")

    return describe


def _flag(name: str, yes: str, no: str) -> Describe:
    return lambda cols, i, now: yes if _n(cols, name, i) else no


def _category(name: str, label: str) -> Describe:
    return lambda cols, i, now: f"{label} {cols[name][i] or 'unknown'}"


DESCRIBE: dict[str, Describe] = {
    "clicks": _clicks,
    "sms_replies": _replies,
    "calls_answered": _answered,
    "days_since_engagement": _recency,
    "emails_opened": _count("emails_opened", "opened {n} email{s}", "opened no email yet"),
    "emails_sent": _count("emails_sent", "{n} email{s} sent", "no email sent yet"),
    "sms_sent": _count("sms_sent", "{n} text{s} sent", "no text sent yet"),
    "calls_unanswered": _count("calls_unanswered", "missed {n} call{s}", "missed no call"),
    "calls_voicemail": _count("calls_voicemail", "{n} call{s} went to voicemail", "no voicemail"),
    "lead_age_days": lambda cols, i, now: f"lead added {ago(cols['lead_age_days'][i], now)}",
    "email_ok": _flag("email_ok", "reachable by email", "not reachable by email"),
    "sms_ok": _flag("sms_ok", "reachable by SMS", "not reachable by SMS"),
    "call_ok": _flag("call_ok", "can be called", "cannot be called"),
    "industry": _category("industry", "industry"),
    "source": _category("source", "came from"),
    "state": _category("state", "in"),
}


def top_reasons(contrib: Floats, k: int = 3) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """Per row, the k groups of largest |impact| (descending) and whether each is strong
    enough to be stated. Vectorised."""
    k = min(k, contrib.shape[1])
    order = np.argsort(-np.abs(contrib), axis=1, kind="stable")[:, :k]
    strong = np.abs(np.take_along_axis(contrib, order, axis=1)) >= MIN_IMPACT
    return order.astype(np.int64), strong


def reason_texts(
    groups: list[str], cols: Columns, contrib: Floats, now: datetime, k: int = 3
) -> list[list[str]]:
    """Up to k reasons per row, strongest first; a negative one is marked 'but'."""
    order, strong = top_reasons(contrib, k)
    out: list[list[str]] = []
    for i in range(contrib.shape[0]):
        texts = []
        for j, keep in zip(order[i], strong[i], strict=True):
            if keep:
                text = DESCRIBE.get(groups[j], _category(groups[j], groups[j]))(cols, i, now)
                texts.append(text if contrib[i, j] > 0 else f"but {text}")
        out.append(texts)
    return out
