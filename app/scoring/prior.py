"""The prior scoring, used until there are enough outcomes to train (docs/scoring.md).

A hand-set logistic model in the same JSON shape as a trained one, so scoring, reasons and
storage are the same code. It starts every lead at a 5 % chance of booking (intercept
logit(0.05)) and moves it by engagement, with weights chosen from common outbound-sales
experience, not from data:

| feature (transformed)            | weight | reading                                   |
|----------------------------------|--------|-------------------------------------------|
| SMS replies, log(1+n)            | +1.5   | a reply is the strongest buying signal    |
| email clicks, log(1+n)           | +1.2   | a click shows intent                      |
| calls answered, log(1+n)         | +1.0   | they pick up                              |
| recency, exp(-days/14)           | +1.0   | engaged lately beats engaged long ago     |
| emails opened, log(1+n)          | +0.5   | weak (privacy proxies open mail too)      |
| can be called (0/1)              | +0.3   | the call channel is open                  |
| calls unanswered, log(1+n)       | -0.3   | repeated no-answers                       |
| voicemails, log(1+n)             | -0.2   |                                           |
| lead age in days, log(1+d)       | -0.1   | fresh leads convert better                |

A lead who replied by SMS yesterday and clicked or answered a call scores 46-49, over the
default hot threshold (40); a contacted lead with no engagement scores about 6.
"""

from __future__ import annotations

import math

from app.scoring.model import ScoreModel, Transform

BASE_RATE = 0.05
WEIGHTS: tuple[tuple[str, Transform, float], ...] = (
    ("sms_replies", "log1p", 1.5),
    ("clicks", "log1p", 1.2),
    ("calls_answered", "log1p", 1.0),
    ("days_since_engagement", "recency", 1.0),
    ("emails_opened", "log1p", 0.5),
    ("call_ok", "identity", 0.3),
    ("calls_unanswered", "log1p", -0.3),
    ("calls_voicemail", "log1p", -0.2),
    ("lead_age_days", "log1p", -0.1),
)


def prior_model() -> ScoreModel:
    """The documented prior as a ScoreModel (mean 0 / scale 1: weights act on the
    transformed values directly)."""
    return ScoreModel(
        kind="prior",
        intercept=math.log(BASE_RATE / (1 - BASE_RATE)),
        numeric=[
            {"name": name, "transform": how, "mean": 0.0, "scale": 1.0, "coef": weight}
            for name, how, weight in WEIGHTS
        ],
        metrics={"note": "prior: not enough outcomes to train yet"},
    )
