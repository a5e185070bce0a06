"""What a tracked link costs a text (issue 17 item 5): the missed-call rescue text's length
and SMS segments with its plain booking link, with the short link `/l/<code>` it is sent
with, and with the signed `/r/<token>` email links use, for a few PUBLIC_BASE_URL and
BOOKING_URL lengths. No database, no network.

    .venv/bin/python bench/sms_segments.py
"""

from __future__ import annotations

from app.campaigns.rescue import rescue_text
from app.campaigns.templates import sms_segments, track_text_links
from app.core.settings import Settings
from app.core.short_links import ShortLink
from app.core.tokens import ClickToken, click_url

BUSINESS = "Brightside Dental"
BASES = ("https://hooks.brightsidedental.com", "https://brightside--nightshift-web.modal.run")
BOOKINGS = ("https://cal.com/brightside-dental/new-patient", "https://bsd.link/book")
CALL, LEAD = 184_233, 52_118  # a call and lead id of a business some months in


def cell(text: str) -> str:
    encoding, segments = sms_segments(text)
    return f"{len(text):>3} ch {segments} {encoding}"


def main() -> None:
    print(f"rescue text for {BUSINESS!r}, call id {CALL}")
    print(f"{'PUBLIC_BASE_URL':<46} {'BOOKING_URL':<46} {'plain':<15} {'/l/ short':<15} /r/ token")
    for base in BASES:
        for booking in BOOKINGS:
            settings = Settings(_env_file=None, public_base_url=base,
                                booking_url=booking, business_name=BUSINESS)  # fmt: skip
            plain = rescue_text(BUSINESS, booking)
            short, _ = track_text_links(plain, settings, ShortLink("rescue", (CALL,)))
            key = f"rescue:{LEAD}:{CALL}"
            token = click_url(settings, ClickToken(booking, LEAD, None, None, key))
            signed = plain.replace(booking, token)
            print(f"{base:<46} {booking:<46} {cell(plain):<15} {cell(short):<15} {cell(signed)}")


if __name__ == "__main__":
    main()
