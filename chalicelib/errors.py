"""The service's error hierarchy.

Library errors are wrapped where they enter (``raise X(...) from exc``); each error carries its
HTTP status, a stable machine-readable code, the request field it is about (if any), and whether
retrying could help. Messages are safe to show users: they never contain SQL, credentials or
stack traces.
"""

from __future__ import annotations

from typing import Any


class ExportServiceError(Exception):
    status_code = 500
    code = "internal_error"
    transient = False

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        return body


class BadRequestError(ExportServiceError):
    status_code = 400
    code = "bad_request"


class ParameterError(BadRequestError):
    code = "invalid_parameter"


class PayloadTooLargeError(BadRequestError):
    status_code = 413
    code = "body_too_large"


class UnsupportedMediaTypeError(BadRequestError):
    status_code = 415
    code = "unsupported_media_type"


class MethodNotAllowedError(ExportServiceError):
    status_code = 405
    code = "method_not_allowed"


class ConflictError(ExportServiceError):
    status_code = 409
    code = "conflict"


class UnprocessableError(ExportServiceError):
    status_code = 422
    code = "unprocessable"


class RetryLaterError(ExportServiceError):
    """A dependency failed for a moment (S3 throttling, the worker not starting): nothing was left
    half done, and the same request can simply be sent again."""

    status_code = 503
    code = "retry_later"
    transient = True
    retry_after_seconds = 1


class NotFoundError(ExportServiceError):
    status_code = 404
    code = "not_found"


class TemplateError(ExportServiceError):
    """A report template is malformed: an author's mistake, never fixed by retrying. A request
    for such a report is answered 422 (the report cannot be run as published), never a 500."""

    status_code = 422
    code = "template_error"

    def __init__(self, message: str, *, source: str = "", line: int | None = None) -> None:
        location = f"{source}:{line}: " if source and line else (f"{source}: " if source else "")
        super().__init__(f"{location}{message}")
        self.detail = message  # the message without its file:line prefix, for tools that place it themselves
        self.source = source
        self.line = line


class DatabaseError(ExportServiceError):
    code = "db_error"


class DatabaseUnavailableError(DatabaseError):
    code = "db_unavailable"
    transient = True


class QueryError(DatabaseError):
    code = "query_failed"


class EmptyResultError(ExportServiceError):
    """The query returned no rows and the report says ``on_empty: fail``."""

    status_code = 422
    code = "empty_result"


class StorageError(ExportServiceError):
    status_code = 503  # S3 failed for a moment: the same request can be sent again
    code = "storage_error"
    transient = True


class SecretError(ExportServiceError):
    code = "secret_unavailable"


class DeliveryError(ExportServiceError):
    """Slack refused or failed to take a message."""

    code = "slack_failed"

    def __init__(self, message: str, *, transient: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.transient = transient
        self.retry_after = retry_after
