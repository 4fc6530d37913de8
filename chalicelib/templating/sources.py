"""Where report templates are read from: the S3 templates prefix (what the service runs) or a local
folder (what an author edits and publishes). Both answer the same questions: which names exist,
and the text of one; so the pipeline and the command line treat them alike.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from chalicelib.errors import NotFoundError, StorageError, TemplateError
from chalicelib.storage import ExportStorage


class TemplateSource(Protocol):
    def names(self) -> list[str]: ...

    def read(self, name: str) -> str: ...

    def location(self, name: str) -> str:
        """Where a template lives, as shown to a person (a path or an s3:// address)."""
        ...


class S3TemplateSource:
    def __init__(self, storage: ExportStorage) -> None:
        self.storage = storage

    def names(self) -> list[str]:
        return self.storage.templates.names()

    def read(self, name: str) -> str:
        return self.storage.templates.read(name).source

    def location(self, name: str) -> str:
        return f"s3://{self.storage.bucket}/{self.storage.templates_prefix}{name}.sql"

    def __str__(self) -> str:
        return f"s3://{self.storage.bucket}/{self.storage.templates_prefix}"


class FolderTemplateSource:
    def __init__(self, folder: Path, *, shown_as: str | None = None) -> None:
        self.folder = folder
        self._shown_as = shown_as if shown_as is not None else str(folder)

    def names(self) -> list[str]:
        if not self.folder.is_dir():
            raise StorageError(f"template folder {self._shown_as!r} does not exist", code="template_source")
        # Every .sql file, even one whose name the service would refuse, so that a check can say so.
        return sorted(path.stem for path in self.folder.glob("*.sql"))

    def read(self, name: str) -> str:
        if Path(name).name != name or name.startswith("."):
            raise NotFoundError(f"report {name!r} does not exist in {self._shown_as}", field="report", code="unknown_report")
        path = self.folder / f"{name}.sql"
        try:
            return path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise NotFoundError(f"report {name!r} does not exist in {self._shown_as}", field="report", code="unknown_report") from None
        except UnicodeDecodeError:
            raise TemplateError("template is not UTF-8 text", source=self.location(name), line=1) from None

    def location(self, name: str) -> str:
        return str(Path(self._shown_as) / f"{name}.sql")

    def __str__(self) -> str:
        return self._shown_as
