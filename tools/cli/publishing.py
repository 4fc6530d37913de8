"""Publishing report templates to S3 with the checks of ``reports check``: the one upload path.

``excel-export reports publish``, ``make publish`` and ``make up`` (the local stack) all upload
through ``publish_templates``, so a template that fails its check never reaches a bucket, whichever
command a developer ran. Each outcome is reported through a callback; no click here, so the local
stack (devstack) can call it too.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from chalicelib.errors import ExportServiceError, NotFoundError
from chalicelib.storage import ExportStorage
from chalicelib.templating.sources import FolderTemplateSource, TemplateSource
from tools.template_check import CheckResult, Problem, check_template

# Further checks of a template that passed ``check`` (the EXPLAIN check of ``--db``).
ExtraCheck = Callable[[CheckResult], list[Problem]]


@dataclass(frozen=True)
class Outcome:
    name: str
    state: str  # new, changed, unchanged or refused
    digest: str = ""
    remote_digest: str = ""
    problems: tuple[Problem, ...] = ()  # why it was refused: every error the check found

    @property
    def problem(self) -> Problem | None:
        return self.problems[0] if self.problems else None


@dataclass(frozen=True)
class PublishSummary:
    outcomes: list[Outcome]

    def count(self, state: str) -> int:
        return sum(outcome.state == state for outcome in self.outcomes)

    @property
    def refused(self) -> int:
        return self.count("refused")


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def check_one(source: TemplateSource, name: str, *, today: dt.date) -> CheckResult:
    file = source.location(name)
    try:
        text = source.read(name)
    except ExportServiceError as exc:
        return CheckResult(name, file, None, [Problem(file, 1, exc.message)])
    return check_template(name, text, file=file, today=today)


def publish_templates(
    source: FolderTemplateSource,
    storage: ExportStorage,
    names: Sequence[str],
    *,
    dry_run: bool = False,
    extra_check: ExtraCheck | None = None,
    report: Callable[[Outcome], None] = lambda _outcome: None,
    today: dt.date | None = None,
) -> PublishSummary:
    """Upload each template that passes its check (and ``extra_check``) and differs from the bucket's copy."""
    outcomes = []
    for name in names:
        outcome = _publish_one(source, storage, name, dry_run=dry_run, extra_check=extra_check, today=today or dt.date.today())
        report(outcome)
        outcomes.append(outcome)
    return PublishSummary(outcomes)


def _publish_one(
    source: FolderTemplateSource, storage: ExportStorage, name: str, *, dry_run: bool, extra_check: ExtraCheck | None, today: dt.date
) -> Outcome:
    result = check_one(source, name, today=today)
    if result.ok and extra_check is not None:
        result.problems.extend(extra_check(result))
    errors = [problem for problem in result.problems if problem.severity == "error"]
    if errors:
        return Outcome(name, "refused", problems=tuple(errors))
    text = source.read(name)
    digest = sha256(text)
    try:
        remote_digest = sha256(storage.templates.read(name).source)
    except NotFoundError:
        remote_digest = ""
    state = "new" if not remote_digest else "unchanged" if remote_digest == digest else "changed"
    if state != "unchanged" and not dry_run:
        storage.templates.put(name, text)
    return Outcome(name, state, digest, remote_digest)
