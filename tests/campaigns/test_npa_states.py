"""The area-code table agrees with phonenumbers' geocoder (scripts/gen_npa_states.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from app.core.npa_states import NPA_STATE
from app.core.phone import area_code_state

GENERATOR = Path(__file__).parents[2] / "scripts" / "gen_npa_states.py"


def _generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("gen_npa_states", GENERATOR)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_table_is_what_the_geocoder_says_for_every_area_code() -> None:
    # Fails after a phonenumbers upgrade that moves an area code: regenerate the table.
    assert _generator().table() == NPA_STATE


def test_area_code_state_reads_the_table() -> None:
    assert area_code_state("+18505550100") == "FL"  # Pensacola
    assert area_code_state("+14055550100") == "OK"
    assert area_code_state("+12125550100") == "NY"
    assert area_code_state("+15555550100") is None  # 555 is no geographic area code
    assert area_code_state("+442071234567") is None
