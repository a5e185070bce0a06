"""The prior scoring, used until there are enough outcomes to train (docs/scoring.md).

A hand-set logistic model in the same JSON shape as a trained one, so scoring, reasons and
storage are the same code. It is what a product ships before it has data of its own: a
fresh enquiry starts at a 5 % chance of booking (intercept logit(0.05)), and the weights
come from common outbound-sales experience, not from any data (and not from the
simulator's seeds: they were checked once on the development seed 1, docs/simulation.md):

| feature (transformed)            | weight | reading                                   |
|----------------------------------|--------|-------------------------------------------|
| days since the enquiry, log(1+d) | -2.0   | speed to lead: a lead cools within hours  |
| SMS replies, log(1+n)            | +1.5   | a reply is the strongest buying signal    |
| email clicks, log(1+n)           | +1.2   | a click shows intent                      |
| recency, exp(-days/14)           | +1.0   | engaged lately beats engaged long ago     |
| emails opened, log(1+n)          | +0.5   | weak (privacy proxies open mail too)      |
| can be called (0/1)              | +0.3   | the call channel is open                  |
| calls unanswered, log(1+n)       | -1.0   | each missed call: fewer ever pick up      |
| voicemails, log(1+n)             | -0.7   | as missed calls, a little less sure       |
| lead age when first contacted    | -0.1   | contacted late                            |

Speed to lead: firms that answered a web enquiry within an hour were ~7x as likely to
qualify it as those that answered an hour later and ~60x as those that waited a day or
more (Oldroyd, McElheran, Elkington, "The Short Life of Online Sales Leads", HBR 2011).
-2.0 per log(1 + days) is a milder reading of that: x0.44 at 12 hours, x0.25 at a day,
x0.06 at 3 days, x0.016 at a week. So a fresh enquiry that clicked outranks a month-old
lead called five times without an answer, and an untouched lead of yesterday outranks
the same lead a week on. An answered call has no weight: every lead the prior ranks is
still unbooked, so an answered call is a lead that picks up (up) and was offered a booking
and did not take it (down); the trained model learns which wins.
"""

from __future__ import annotations

import math

from app.scoring.model import ScoreModel, Transform

BASE_RATE = 0.05
WEIGHTS: tuple[tuple[str, Transform, float], ...] = (
    ("days_since_enquiry", "log1p", -2.0),
    ("sms_replies", "log1p", 1.5),
    ("clicks", "log1p", 1.2),
    ("days_since_engagement", "recency", 1.0),
    ("emails_opened", "log1p", 0.5),
    ("call_ok", "identity", 0.3),
    ("calls_unanswered", "log1p", -1.0),
    ("calls_voicemail", "log1p", -0.7),
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
