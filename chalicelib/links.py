"""Download links for stored exports: S3 presigned URLs, or CloudFront URLs when configured."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import quote

from chalicelib.storage import ExportStorage


@dataclass(frozen=True)
class DownloadLink:
    url: str
    expires_at: dt.datetime


class LinkMaker:
    def __init__(self, storage: ExportStorage, *, expiry_seconds: int, cloudfront_domain: str = "") -> None:
        self._storage = storage
        self._expiry_seconds = expiry_seconds
        self._cloudfront_domain = cloudfront_domain

    def link_for(self, key: str, *, now: dt.datetime | None = None) -> DownloadLink:
        now = now or dt.datetime.now(dt.UTC)
        expires_at = (now + dt.timedelta(seconds=self._expiry_seconds)).replace(microsecond=0)
        if self._cloudfront_domain:
            # Access is limited by the WAF allow-list; the link lasts as long as the object does.
            url = f"https://{self._cloudfront_domain}/{quote(key)}"
        else:
            # A presigned URL made with temporary Lambda credentials stops working when they
            # expire, whatever expiry is asked for; the expiry stated here is the one requested.
            url = self._storage.presigned_url(key, self._expiry_seconds)
        return DownloadLink(url=url, expires_at=expires_at)
