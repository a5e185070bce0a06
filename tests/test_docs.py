"""The docs name only what exists: every setting (environment variable), `nightshift`
command and option, and repository file that README.md, docs/*.md and .env.example name.

A doc that still names a renamed setting, a removed command or a moved file sends a person
going live down a dead end (issue 16: a secret name, a web URL and `docs/oncall.md` that
disagreed with the code). docs/notes/ is excluded: copied provider notes, quoted as checked.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer

from app.cli import cli
from app.core.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
SETTINGS = {name.upper() for name in Settings.model_fields}
# environment variables that are neither settings nor named in the code, each for a reason
OTHER_VARIABLES = {
    "MODAL_TOKEN_ID": "GitHub secret for the deploy workflow",
    "MODAL_TOKEN_SECRET": "GitHub secret for the deploy workflow",
    "MODAL_ENVIRONMENT": "Modal CLI's environment choice",
    "PHONE_OR_EMAIL": "a command's argument placeholder",
    "POSTGRES_URL": "a command's argument placeholder",
}
_CODE_FILES = [
    *(p for d in ("app", "tests", "bench", "scripts") for p in (ROOT / d).rglob("*.py")),
    *(ROOT / ".github").rglob("*.yml"), ROOT / "modal_deploy.py", ROOT / "Makefile",
]  # fmt: skip
# upper-case names the code itself uses: test variables (TEST_DATABASE_URL), constants
# (CLAIM_AHEAD) — a doc naming one that no longer exists is caught all the same
CODE_NAMES = {
    name
    for path in _CODE_FILES
    if path.name != "test_docs.py" and path.is_file()
    for name in re.findall(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b", path.read_text(encoding="utf-8"))
}
# `FOO_BAR` in backticks, `FOO_BAR=value`, or FOO_BAR in a code block's `export`/env line
_VARIABLE = re.compile(r"(?<![\w./-])([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)(?:=|\b)")
_CODE = re.compile(r"`([^`\n]+)`")
_FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
_PATH = re.compile(
    r"^(?:\.github|app|bench|docs|examples|scripts|supabase|tests)/[\w./*-]+$"
    r"|^(?:modal_deploy\.py|pyproject\.toml|Makefile|requirements\.lock|\.env\.example"
    r"|README\.md)$"
)
_LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def _code_spans(text: str) -> list[str]:
    """Inline code and the lines of fenced blocks."""
    spans = _CODE.findall(_FENCE.sub("", text))
    for block in _FENCE.findall(text):
        spans += [line for line in block.splitlines() if line.strip()]
    return spans


def _variables(text: str) -> set[str]:
    found: set[str] = set()
    for span in _code_spans(text):
        for name in _VARIABLE.findall(span):
            if not name.endswith("_"):  # ALERT_ROUTES_* style families
                found.add(name)
    return found


def test_every_environment_variable_named_is_a_setting() -> None:
    problems = []
    for doc in [*DOCS, ROOT / ".env.example"]:
        text = doc.read_text(encoding="utf-8")
        if doc.name == ".env.example":  # comments only: the assignments are the settings
            text = "\n".join(f"`{w}`" for line in text.splitlines() if line.startswith("#")
                             for w in re.findall(r"[A-Z][A-Z0-9_]+", line))  # fmt: skip
        for name in sorted(_variables(text) - SETTINGS - set(OTHER_VARIABLES) - CODE_NAMES):
            problems.append(f"{doc.relative_to(ROOT)}: {name} is not a setting nor in the code")
    assert problems == []


def _commands(text: str) -> list[list[str]]:
    """Each `nightshift ...` invocation in code, as words (options and arguments kept)."""
    found = []
    for span in _code_spans(text):
        # at the start of a command: not `modal app logs nightshift` (the Modal app's name)
        start = r"(?:^\s*|[;&|(]\s*|\$\s+)(?:[A-Z][A-Z0-9_]*=\S*\s+)*"
        for match in re.finditer(start + r"nightshift((?:\s+[^\s`;&|)]+)*)", span):
            try:
                words = shlex.split(match.group(1), comments=True)
            except ValueError:
                words = match.group(1).split()
            found.append(words)
    return found


def _resolve(words: list[str]) -> tuple[Any, list[str]] | str:
    """The command the words name and the options given to it, or what does not exist."""
    command: Any = typer.main.get_command(cli)  # typer's own click: duck-typed
    path = ["nightshift"]
    rest = list(words)
    while rest and hasattr(command, "commands"):
        word = rest[0]
        if word.startswith("-") or not re.match(r"^[a-z][a-z-]*$", word):
            break
        sub = command.commands.get(word)
        if sub is None:
            if command.invoke_without_command:  # a group that takes arguments itself
                break
            return f"`{' '.join(path)}` has no command {word!r}"
        command, path, rest = sub, [*path, word], rest[1:]
    return command, [w.split("=", 1)[0] for w in rest if w.startswith("--")]


def test_every_nightshift_command_and_option_named_exists() -> None:
    problems = []
    for doc in DOCS:
        for words in _commands(doc.read_text(encoding="utf-8")):
            resolved = _resolve(words)
            if isinstance(resolved, str):
                problems.append(f"{doc.relative_to(ROOT)}: {resolved}")
                continue
            command, options = resolved
            known = {opt for param in command.params for opt in param.opts}
            known |= {"--help", "--debug"}
            for option in options:
                if option not in known and option != "--":
                    problems.append(
                        f"{doc.relative_to(ROOT)}: `nightshift {' '.join(words)}`: "
                        f"no option {option}"
                    )
    assert problems == []


def _missing_files(doc: Path, text: str) -> list[str]:
    """Repository paths and relative links in `text` (of `doc`) that do not exist."""
    problems = []
    spans = re.findall(r"[\w./*-]+", " ".join(_code_spans(text)))
    spans += re.findall(r"(?<![\w/.])((?:docs|app|tests|supabase)/[\w./-]+\.\w+)", text)
    for span in spans:
        path = span.rstrip(".,:;)")
        if not _PATH.match(path) or "<" in path:
            continue
        if not any(ROOT.glob(path)) and not (ROOT / path).exists():
            problems.append(f"{doc.relative_to(ROOT)}: {path} does not exist")
    for link in _LINK.findall(text):
        if re.match(r"^[a-z]+:", link):
            continue  # http(s), mailto
        if not (doc.parent / link).exists():
            problems.append(f"{doc.relative_to(ROOT)}: link {link} does not exist")
    return sorted(set(problems))


def test_every_repository_file_named_exists() -> None:
    problems = []
    for doc in [*DOCS, ROOT / ".env.example"]:
        problems += _missing_files(doc, doc.read_text(encoding="utf-8"))
    assert sorted(set(problems)) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("`nightshift leads import a.csv --dry-run`", [["leads", "import", "a.csv", "--dry-run"]]),
        ("```bash\nNIGHTSHIFT_ENV=production nightshift status\n```", [["status"]]),
    ],
)  # fmt: skip
def test_commands_are_found_in_inline_code_and_blocks(text: str, expected: list[list[str]]) -> None:
    assert _commands(text) == expected


def test_a_stale_name_is_caught() -> None:
    assert _resolve(["leads", "export"]) == "`nightshift leads` has no command 'export'"
    assert _variables("set `ONCALL_PHONE` and `HEARTBEAT_URL`") == {"ONCALL_PHONE", "HEARTBEAT_URL"}
    assert not _PATH.match("https://example.com/app/x.py")
    env = ROOT / ".env.example"
    assert _missing_files(env, "# on-call: see docs/oncall.md") == [
        ".env.example: docs/oncall.md does not exist"
    ]
    assert _missing_files(ROOT / "docs" / "go-live.md", "[x](oncall.md#top) `app/cli/gone.py`") == [
        "docs/go-live.md: app/cli/gone.py does not exist",
        "docs/go-live.md: link oncall.md does not exist",
    ]
