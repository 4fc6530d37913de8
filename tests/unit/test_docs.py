"""The docs stay true to the code: README.md and docs/ are checked against what they describe.

Each test reads the pages as a reader would follow them: a table that does not render, a link that
leads nowhere, a `make` target or command that does not exist, a setting whose default the page
misstates. None needs the local stack.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from devstack import docs as generated

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
# Named by the docs for the layout of issue 14; they exist once its code move is merged.

_FENCE = re.compile(r"^```.*?^```", re.M | re.S)
_CODE_SPAN = re.compile(r"`([^`\n]+)`")
_LINK = re.compile(r"\[[^\]\n]*\]\(([^)\s]+)\)")


def _name(page: Path) -> str:
    return str(page.relative_to(ROOT))


def _prose(text: str) -> str:
    """The page without its fenced code blocks (links and tables live in prose)."""
    return _FENCE.sub("", text)


def _code(text: str) -> Iterator[str]:
    """What a reader would type: fenced blocks and inline code spans."""
    yield from _FENCE.findall(text)
    yield from _CODE_SPAN.findall(_prose(text))


def test_the_docs_are_pages_per_reader_behind_a_short_readme() -> None:
    names = {_name(page) for page in PAGES}
    expected = {
        "docs/api.md", "docs/slack-app.md", "docs/authoring.md", "docs/schedules.md", "docs/development.md",
        "docs/operations/deploy.md", "docs/operations/settings.md", "docs/operations/security.md",
        "docs/operations/observability.md", "docs/operations/cost.md",
    }  # fmt: skip
    assert expected <= names
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 170
    first_block = _FENCE.search(readme)
    assert first_block is not None and readme.index(first_block.group(0)) < readme.index("\n## ")
    assert "make demo" in first_block.group(0) and "make test" in first_block.group(0)


# Settings ------------------------------------------------------------------------------------------


def test_the_settings_page_holds_the_table_generated_from_settings_py() -> None:
    page = (ROOT / "docs/operations/settings.md").read_text(encoding="utf-8")
    assert generated.settings_block() in page, "docs/operations/settings.md is stale: paste `python -m devstack.docs settings`"


def test_the_generated_table_names_every_settings_field_with_its_default_and_bounds() -> None:
    from dataclasses import fields

    from chalicelib.settings import Settings

    documented = {doc.field: doc for doc in generated.settings_docs()}
    assert set(documented) == {field.name for field in fields(Settings)}
    assert documented["link_expiry_seconds"].default == "259,200"
    assert documented["link_expiry_seconds"].allowed == "60 to 604,800"
    assert documented["bucket"].default == "required"
    assert documented["dispatch_mode"].allowed == "`lambda`, `thread`"
    assert documented["presigned_max_seconds"].default == "3,600 when `AWS_SESSION_TOKEN` is set, else 604,800"


def test_the_generated_defaults_are_the_ones_the_code_applies() -> None:
    # Read the same source through the real parser: a table built from a misread call would differ.
    from chalicelib.settings import Settings

    settings = Settings.from_environment({"EXPORT_BUCKET": "b", "DB_SECRET_NAME": "d", "SLACK_SECRET_NAME": "s"})
    for doc in generated.settings_docs():
        value = getattr(settings, doc.field)
        if doc.default == "required" or " when " in doc.default:
            continue
        shown = f"{value:,}" if isinstance(value, int) else (f"`{value}`" if value else "empty")
        assert doc.default == shown, (doc.variable, doc.default, value)


def test_a_setting_without_a_meaning_cannot_be_documented(tmp_path: Path) -> None:
    source = (ROOT / "chalicelib/settings.py").read_text(encoding="utf-8")
    changed = source.replace('tmp_dir=reader.text("EXPORT_TMP_DIR", "/tmp"),', 'tmp_dir=reader.text("EXPORT_SCRATCH", "/tmp"),')
    assert changed != source
    (tmp_path / "settings.py").write_text(changed, encoding="utf-8")
    with pytest.raises(KeyError, match="EXPORT_SCRATCH"):
        generated.settings_table(tmp_path / "settings.py")


# Tables --------------------------------------------------------------------------------------------


def _cells(row: str) -> list[str]:
    # Markdown splits a row at every pipe not escaped with a backslash, inside code spans too.
    return re.split(r"(?<!\\)\|", row.strip().strip("|"))


def _tables(text: str) -> Iterator[list[str]]:
    table: list[str] = []
    for line in [*_prose(text).splitlines(), ""]:
        if line.startswith("|"):
            table.append(line)
        elif table:
            yield table
            table = []


@pytest.mark.parametrize("page", PAGES, ids=_name)
def test_every_table_parses(page: Path) -> None:
    for table in _tables(page.read_text(encoding="utf-8")):
        assert len(table) >= 2 and re.fullmatch(r"\|(\s*:?-+:?\s*\|)+", table[1]), f"{_name(page)}: no delimiter row under {table[0]}"
        width = len(_cells(table[0]))
        for row in table:
            assert len(_cells(row)) == width, f"{_name(page)}: {len(_cells(row))} cells, header has {width}: {row}"


# Make targets and commands -------------------------------------------------------------------------


def _make_targets() -> set[str]:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([a-z][a-z0-9-]*):", makefile, re.M))


def _named(pattern: str) -> Iterator[tuple[Path, re.Match[str]]]:
    for page in PAGES:
        for code in _code(page.read_text(encoding="utf-8")):
            for match in re.finditer(pattern, code):
                yield page, match


def test_every_make_target_named_in_the_docs_exists() -> None:
    targets = _make_targets()
    named = {(m.group(1), _name(page)) for page, m in _named(r"(?:^|[\s`(;])make ([a-z][a-z0-9-]*)")}
    assert len(named) > 20
    missing = {(target, page) for target, page in named if target not in targets}
    assert missing == set()


def _cli() -> click.Group:
    module = importlib.import_module("tools.cli")
    main = module.main
    assert isinstance(main, click.Group)
    return main


def test_every_excel_export_command_named_in_the_docs_exists() -> None:
    main = _cli()
    found = list(_named(r"excel-export((?: --stage \S+)*) ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?"))
    assert len(found) > 10
    for page, match in found:
        command = main.commands.get(match.group(2))
        assert command is not None, f"{_name(page)}: excel-export {match.group(2)}"
        if isinstance(command, click.Group) and match.group(3):
            assert match.group(3) in command.commands, f"{_name(page)}: excel-export {match.group(2)} {match.group(3)}"


def _subcommands(module: str, main: Path) -> set[str]:
    """The subcommands a ``python -m`` entry point takes: its click group's, or its argparse choices."""
    group = getattr(importlib.import_module(f"{module}.__main__"), "cli", None)
    if isinstance(group, click.Group):
        return set(group.commands)
    return set(re.findall(r'"([a-z][a-z-]*)"', main.read_text(encoding="utf-8")))


def test_every_python_module_and_subcommand_named_in_the_docs_exists() -> None:
    found = list(_named(r"python3? -m ([a-zA-Z_][\w.]*)(?: ([a-z][a-z|/-]*))?"))
    assert len(found) > 5
    for page, match in found:
        module, subcommands = match.group(1), match.group(2)
        spec = importlib.util.find_spec(module)
        assert spec is not None, f"{_name(page)}: python -m {module}"
        main = ROOT / module.replace(".", "/") / "__main__.py"
        if subcommands and main.is_file():
            declared = _subcommands(module, main)
            for name in re.split(r"[|/]", subcommands):
                assert name in declared, f"{_name(page)}: python -m {module} {name}"


# Links and paths -----------------------------------------------------------------------------------


def _slug(heading: str) -> str:
    # GitHub's anchors: lower case, punctuation dropped (hyphens and underscores kept), spaces to hyphens.
    text = heading.strip().lower().replace("`", "")
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    return {_slug(line.lstrip("#")) for line in _prose(page.read_text(encoding="utf-8")).splitlines() if line.startswith("#")}


@pytest.mark.parametrize("page", PAGES, ids=_name)
def test_every_relative_link_resolves(page: Path) -> None:
    for target in _LINK.findall(_prose(page.read_text(encoding="utf-8"))):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        assert resolved.exists(), f"{_name(page)}: link to {target}"
        if anchor and resolved.suffix == ".md":
            assert anchor in _anchors(resolved), f"{_name(page)}: no heading #{anchor} in {path or _name(page)}"


def test_every_code_path_named_in_the_docs_exists() -> None:
    path = re.compile(r"\b((?:chalicelib|tools)/[\w/.-]*\w/?)")
    named = {(m.group(1), _name(page)) for page in PAGES for m in path.finditer(page.read_text(encoding="utf-8"))}
    assert len(named) > 40
    assert {(path, page) for path, page in named if not (ROOT / path).exists()} == set()
    assert "test-fast" in _make_targets()
    for page, match in _named(r"python3? -m (tools[\w.]*)"):
        assert importlib.util.find_spec(match.group(1)) is not None, f"{_name(page)}: python -m {match.group(1)}"


def test_the_security_page_names_every_bucket_prefix_the_policy_grants() -> None:
    # The IAM paragraph once left out the state/ grant: every prefix in infra/policy.json is named.
    import json

    policy = json.loads((ROOT / "infra/policy.json").read_text(encoding="utf-8"))
    defaults = {doc.variable: doc.default.strip("`") for doc in generated.settings_docs()}
    resources = [r for s in policy["Statement"] for r in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])]
    prefixes = {defaults[name] for r in resources for name in re.findall(r"\{env:(\w+_PREFIX)\}", r)}
    assert prefixes >= {"templates/", "exports/", "status/", "state/"}
    page = (ROOT / "docs/operations/security.md").read_text(encoding="utf-8")
    assert {prefix for prefix in prefixes if f"`{prefix}*`" not in page} == set()


def test_every_documented_meaning_belongs_to_a_setting_the_code_reads() -> None:
    # A setting removed from the code must leave the page too, not linger in the meanings.
    assert set(generated.MEANINGS) == {doc.variable for doc in generated.settings_docs()}


def test_the_security_page_names_every_action_the_policy_grants() -> None:
    import json

    policy = json.loads((ROOT / "infra/policy.json").read_text(encoding="utf-8"))
    actions = {action for statement in policy["Statement"] for action in statement["Action"]}
    page = (ROOT / "docs/operations/security.md").read_text(encoding="utf-8")
    named = set(re.findall(r"[A-Z][A-Za-z0-9]+", page))
    # The page writes `s3:GetObject`/`PutObject`: each action's name after its service prefix is enough.
    assert {action for action in actions if action.split(":")[1] not in named} == set()
