"""A published bulletin's files, archived like the evaluation's (workflow/evaluation/archive.py): the bytes in
the file store under their sha256 (workflow.files), a BulletinFile row with the name, size and pages."""
from __future__ import annotations

from datetime import datetime

from flask import Response

from models import Bulletin, BulletinFile
from workflow import files
from workflow.extensions import db

MIMETYPES = {"pdf": "application/pdf",
             "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}


def _root() -> files.Area:
    return files.area("bulletins")


def filename(data: dict, kind: str) -> str:
    """情况通报-2026年第3期-某市碳达峰实施方案-2026年第三季度.pdf; a draft says so."""
    number = data.get("number") or "草稿"
    return f"情况通报-{number}-{data['plan']['title']}-{data['period']['label']}.{kind}"


def store(bulletin: Bulletin, *, kind: str, data: bytes, pages: int | None, name: str,
          now: datetime) -> BulletinFile:
    """Keep the file in the caller's transaction (the blob is written at once; an unused blob is harmless, the
    store being content-addressed)."""
    digest, _key = files.write_blob(_root(), data)
    row = BulletinFile(bulletin=bulletin, kind=kind, filename=name,
                       size=len(data), pages=pages, sha256=digest, created_at=now)
    db.session.add(row)
    return row


def read(row: BulletinFile) -> bytes:
    return files.read_stored(_root(), row.sha256)


def send(row: BulletinFile) -> Response:
    """The archived file, streamed (FileNotFoundError when it is missing)."""
    return files.send_stored(_root(), row.sha256, mimetype=MIMETYPES[row.kind])
