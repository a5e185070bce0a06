"""Importing the exports CRMs and spreadsheets really write (issue 16, item 2): a GoHighLevel-
style `First Name,Last Name,Mobile,Email Address` file with a comma-ordered name, duplicates,
a UK number and a damaged cell; HubSpot and Excel shapes; merges that are reported."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from app.campaigns import drip
from app.campaigns.import_file import parse_mapping
from app.campaigns.leads_import import import_csv
from app.core.clock import ManualClock
from app.jobs.bootstrap import Context
from app.jobs.drip import drip_deps
from tests.campaigns.helpers import load, query
from tests.consented import consented_lead

GHL_EXPORT = (
    b"First Name,Last Name,Mobile,Email Address\r\n"
    b"Maria,Gonzalez,(512) 555-0141,maria@example.com\r\n"
    b'"Doe, Jane",,512-555-0142,jane@example.com\r\n'
    b"Dupe,Maria,512.555.0141,maria@example.com\r\n"
    b"Oliver,Smith,+44 20 7946 0958,oliver@example.co.uk\r\n"
    b"Nora,Null,512-555-0144,nora\x00@example.com\r\n"
    b"Sam,Lee,512-555-0145,sam@example.com\r\n"
    b"Maria,Gonzalez,(737) 555-0146,maria@example.com\r\n"
)


async def test_a_crm_export_greets_jane_reports_merges_and_rejects_only_bad_rows(
    ctx: Context, clock: ManualClock
) -> None:
    report = await import_csv(GHL_EXPORT, ctx.repos.leads, clock.now(), ctx.repos.outbox)

    assert (report.read, report.imported, report.updated, report.rejected) == (7, 3, 2, 2)
    errors = {e.line: (e.column, e.reason) for e in report.errors}
    assert errors[5] == (
        "phone",
        "+442079460958 is a GB number (+44); only US numbers are imported (--country US)",
    )
    assert errors[6][0] == "email" and "NUL byte" in errors[6][1]
    merges = {m.line: str(m) for m in report.merges}
    assert merges[4] == (
        "line 4: merged into line 2's lead (same phone): name kept 'Maria Gonzalez' "
        "(file: 'Dupe Maria')"
    )
    assert merges[8] == (
        "line 8: merged into line 2's lead (same email): phone kept '+15125550141' "
        "(file: '+17375550146', the file's saved in other_phones)"
    )
    leads = {r["email"]: r for r in await query(ctx, "select * from leads order by id")}
    assert set(leads) == {"maria@example.com", "jane@example.com", "sam@example.com"}
    maria = leads["maria@example.com"]
    assert maria["name"] == "Maria Gonzalez" and maria["phone"] == "+15125550141"
    assert maria["attributes"]["other_phones"] == ["+17375550146"]
    assert leads["jane@example.com"]["name"] == "Jane Doe"

    # consent to texts recorded separately (the web form), then the campaign's first text
    consent = [consented_lead(phone=lead["phone"]) for lead in leads.values()]
    await ctx.repos.leads.upsert(consent, clock.now())
    clock.set(datetime(2026, 12, 7, 11, tzinfo=ZoneInfo("America/Chicago")))
    await load(ctx)
    await ctx.repos.campaigns.enroll(clock.now())
    await drip.run(drip_deps(ctx))
    texts = await query(ctx, "select to_address, payload from messages where channel = 'sms'")
    bodies = {t["to_address"]: t["payload"]["body"] for t in texts}
    assert bodies["+15125550142"].startswith("Hi Jane, ")
    assert bodies["+15125550141"].startswith("Hi Maria, ")
    assert not any("Hi ," in body for body in bodies.values())


async def test_dry_run_reports_the_same_and_writes_nothing(ctx: Context) -> None:
    dry = await import_csv(GHL_EXPORT, ctx.repos.leads, ctx.clock.now(), dry_run=True)
    assert (dry.imported, dry.updated, dry.rejected) == (3, 2, 2)
    assert [m.line for m in dry.merges] == [4, 8]
    assert dry.summary() == "dry run, nothing written: would import 3, update 2, reject 2"
    assert await query(ctx, "select id from leads") == []
    real = await import_csv(GHL_EXPORT, ctx.repos.leads, ctx.clock.now())
    assert (real.imported, real.updated, real.rejected) == (3, 2, 2)


async def test_hubspot_semicolons_bom_excel_phones_and_a_latin1_byte(ctx: Context) -> None:
    export = (
        "\ufeffFull Name;Phone Number;E-mail;Company Name;Tags;Lifecycle Stage\r\n"
        "MARIA GONZALEZ;'5125550171;maria@example.com;Gonzalez HVAC;vip, spring promo;lead\r\n"
        'Ann Lee;="5125550172";ann@example.com;;;\r\n'
        "Bo Chen;5125550173.0;bo@example.com;;;\r\n"
        "Cy Park;5.12555E+09;cy@example.com;;;\r\n"
        "\r\n"
    ).encode()
    export += "Jos\u00e9 Ruiz;5125550174;jose@example.com;;;\r\n".encode("latin-1")
    report = await import_csv(export, ctx.repos.leads, ctx.clock.now())
    assert (report.imported, report.rejected) == (3, 2)
    reasons = {e.line: (e.column, e.reason) for e in report.errors}
    assert reasons[5][0] == "phone" and "scientific notation" in reasons[5][1]
    assert reasons[7][0] == "name" and "0xE9 is not UTF-8" in reasons[7][1]
    rows = await query(ctx, "select name, phone, company, attributes from leads order by id")
    assert rows[0]["name"] == "Maria Gonzalez" and rows[0]["phone"] == "+15125550171"
    assert rows[0]["company"] == "Gonzalez HVAC"
    assert rows[0]["attributes"] == {"tags": ["vip", "spring promo"], "lifecycle stage": "lead"}
    assert [r["phone"] for r in rows[1:]] == ["+15125550172", "+15125550173"]


async def test_map_names_a_column_no_alias_knows(ctx: Context) -> None:
    export = b"Client,Best Number,Notes\nPat Fox,512 555 0181,gate code 1234\n"
    with pytest.raises(ValueError, match="--map COLUMN=phone"):
        await import_csv(export, ctx.repos.leads, ctx.clock.now())
    mapping = parse_mapping(["Best Number=phone", "client=name", "Notes=ignore"])
    report = await import_csv(export, ctx.repos.leads, ctx.clock.now(), mapping=mapping)
    assert report.imported == 1
    rows = await query(ctx, "select name, phone, attributes from leads")
    assert rows == [{"name": "Pat Fox", "phone": "+15125550181", "attributes": {}}]


async def test_an_email_that_belongs_to_another_lead_is_reported_not_moved(
    ctx: Context,
) -> None:
    first = b"Name,Phone,Email\nAna Ruiz,512-555-0191,ana@example.com\nBo Chen,512-555-0192,\n"
    await import_csv(first, ctx.repos.leads, ctx.clock.now())
    again = b"Name,Phone,Email\nBo Chen,512-555-0192,ana@example.com\n"
    report = await import_csv(again, ctx.repos.leads, ctx.clock.now())
    assert [str(m) for m in report.merges] == [
        "line 2: merged into lead #2 (same phone): email 'ana@example.com' left on lead #1 "
        "(it is theirs)"
    ]
    rows = await query(ctx, "select name, email from leads order by id")
    assert rows == [
        {"name": "Ana Ruiz", "email": "ana@example.com"},
        {"name": "Bo Chen", "email": None},
    ]


async def test_an_erased_person_is_never_imported_again(ctx: Context) -> None:
    export = b"Name,Phone,Email\nAna Ruiz,512-555-0191,ana@example.com\n"
    await import_csv(export, ctx.repos.leads, ctx.clock.now())
    await query(ctx, "select console_erase_lead(1, 'operator-session', now())")  # the console
    report = await import_csv(export, ctx.repos.leads, ctx.clock.now())
    assert (report.imported, report.rejected) == (0, 1)
    assert str(report.errors[0]) == (
        "line 2, phone/email: this person was erased (console); they are never imported again"
    )
