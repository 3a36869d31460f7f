"""The file store on both backends, the local folder and S3 (moto's standalone server, spoken to over HTTP as to
MinIO): attachments uploaded and downloaded through the web and the API, streamed both ways in bounded memory,
archived files, staged plan uploads, and the sweep of what a killed process left."""
from __future__ import annotations

import hashlib
import io
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from models import Attachment
from tests.conftest import FUSHUN, PASSWORD
from tests.factories import PDF, liaison_of, published_fushun, report_for
from workflow import files
from workflow.auth.tokens import create_token
from workflow.evaluation import archive
from workflow.extensions import db
from workflow.plans.services import discard_staged, load_staged, stage_upload
from workflow.reports.services import add_attachment, attachment_area, sweep_attachments
from workflow.storage import LocalStorage, S3Storage, from_config, storage

MB = 1024 * 1024
NOW = datetime(2026, 4, 3, 2, tzinfo=UTC)
PNG_HEAD = b"\x89PNG\r\n\x1a\n"


class Generated:
    """An upload of `size` bytes made as it is read, never whole in memory (PNG: its type is in its head)."""

    def __init__(self, size: int):
        self.size, self.position = size, 0

    def read(self, n: int = -1) -> bytes:
        n = self.size - self.position if n is None or n < 0 else min(n, self.size - self.position)
        start, self.position = self.position, self.position + n
        head = PNG_HEAD[start:start + n]
        return head + bytes([start % 251]) * (n - len(head))


def generated_sha256(size: int) -> str:
    source, digest = Generated(size), hashlib.sha256()
    while chunk := source.read(MB):
        digest.update(chunk)
    return digest.hexdigest()


def local_files(app) -> list[Path]:
    root = Path(app.config["UPLOAD_DIR"])
    return [p for p in root.rglob("*") if p.is_file()] if root.is_dir() else []


@pytest.fixture
def draft():
    """A 2026Q1 draft of the bundled plan and its department's liaison."""
    plan, _office = published_fushun()
    report = report_for(plan, "3.4.3")
    return report, liaison_of(report.department.name)


def test_the_backend_comes_from_the_configuration(tmp_path, s3_settings):
    assert isinstance(from_config({"UPLOAD_DIR": str(tmp_path)}), LocalStorage)
    s3 = from_config({**s3_settings, "UPLOAD_DIR": str(tmp_path), "S3_PREFIX": "/city-a/"})
    assert isinstance(s3, S3Storage) and s3.prefix == "city-a/" and s3.bucket == s3_settings["S3_BUCKET"]
    s3.put_bytes("attachments/x", b"kept under the prefix")
    assert [item.key for item in s3.list()] == ["attachments/x"]  # keys as the app names them
    assert s3.client.list_objects_v2(Bucket=s3.bucket)["Contents"][0]["Key"] == "city-a/attachments/x"


def test_an_attachment_uploaded_through_the_web_downloads_through_the_web_and_the_api(app, client, draft,
                                                                                      storage_backend):
    report, liaison = draft
    report_id, version = report.id, report.version
    assert client.post("/login", data={"username": liaison.username, "password": PASSWORD}).status_code == 302
    form = {"version": str(version), "narrative": "附现场照片", "percent_complete": "20", "progress": "on_track",
            "difficulties": "", "next_steps": "", "file": (io.BytesIO(PDF), "整改报告.pdf")}
    assert client.post(f"/reports/{report_id}/attachments", data=form).status_code == 302
    row = db.session.scalar(select(Attachment).where(Attachment.report_id == report_id))
    digest = hashlib.sha256(PDF).hexdigest()
    assert row.sha256 == digest and row.size == len(PDF)
    key = attachment_area().key(digest)
    assert storage().exists(key)
    # On S3 nothing is written to the host's folder: another host serves the same file.
    assert [p.name for p in local_files(app)] == ([digest] if storage_backend == "local" else [])

    page = client.get(f"/reports/attachments/{row.id}")
    assert page.status_code == 200 and page.data == PDF and page.mimetype == "application/pdf"
    assert page.headers["ETag"] == f'"{digest}"' and "filename*=UTF-8''" in page.headers["Content-Disposition"]
    assert int(page.headers["Content-Length"]) == len(PDF)
    assert client.get(f"/reports/attachments/{row.id}", headers={"If-None-Match": f'"{digest}"'}).status_code == 304

    token = create_token(liaison, name="t", now=NOW, actor=liaison)[1]
    api = client.get(f"/api/v1/attachments/{row.id}", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 200 and api.data == PDF

    storage().delete(key)  # lost behind the app's back: a clear 404, never a 500
    assert client.get(f"/reports/attachments/{row.id}").status_code == 404
    assert client.get(f"/api/v1/attachments/{row.id}", headers={"Authorization": f"Bearer {token}"}).status_code == 404


def test_a_big_upload_and_its_download_stream_in_bounded_memory(app, client, draft, storage_backend):
    """80 MB in and out while Python holds at most a fraction of it (~27 MB of multipart parts on S3 whatever the size, a spool file and
    sendfile locally): the sha256 is computed on the way in, the same bytes come out."""
    size = 80 * MB
    app.config.update(ATTACHMENT_MAX_BYTES=128 * MB)
    report, liaison = draft
    tracemalloc.start()
    try:
        row = add_attachment(report, Generated(size), "大图.png", actor=liaison, now=NOW)
        _current, upload_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        assert client.post("/login", data={"username": liaison.username, "password": PASSWORD}).status_code == 302
        response = client.get(f"/reports/attachments/{row.id}", buffered=False)
        digest, received = hashlib.sha256(), 0
        for chunk in response.response:
            digest.update(chunk)
            received += len(chunk)
        response.close()
        _current, download_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert row.size == size and row.sha256 == generated_sha256(size) == digest.hexdigest() and received == size
    assert upload_peak < size / 2, upload_peak
    assert download_peak < size / 4, download_peak


def test_the_sweep_removes_strays_and_abandoned_uploads_but_keeps_what_rows_name(app, draft, storage_backend):
    report, liaison = draft
    kept = add_attachment(report, PDF, "a.pdf", actor=liaison, now=NOW)
    stray, stray_key = files.write_blob(attachment_area(), PNG_HEAD + b"\x00" * 32)
    store = storage()
    if not isinstance(store, S3Storage):  # a temp file a killed process left
        (Path(app.config["UPLOAD_DIR"]) / "attachments" / "ff").mkdir(parents=True)
        (Path(app.config["UPLOAD_DIR"]) / "attachments" / "ff" / ".tmp-half").write_bytes(b"half")
    assert sweep_attachments(now=datetime.now(UTC)) == 0   # too fresh: a request may be about to commit its row
    if isinstance(store, S3Storage):      # a multipart upload a killed process began and never completed (made
        # after the check above: moto dates every multipart upload 2010, MinIO and S3 the real time)
        begun = store.client.create_multipart_upload(Bucket=store.bucket, Key=f"attachments/{'f' * 64}")
        store.client.upload_part(Bucket=store.bucket, Key=f"attachments/{'f' * 64}", UploadId=begun["UploadId"],
                                 PartNumber=1, Body=b"half")
    assert sweep_attachments(now=datetime.now(UTC) + timedelta(hours=2)) == 2
    assert not store.exists(stray_key) and store.exists(attachment_area().key(kept.sha256))
    if isinstance(store, S3Storage):
        assert not store.client.list_multipart_uploads(Bucket=store.bucket).get("Uploads")
    else:
        assert not list((Path(app.config["UPLOAD_DIR"]) / "attachments" / "ff").iterdir())
    assert stray not in {item.key.rsplit("/", 1)[-1] for item in files.durable_files()}


def test_an_archived_workbook_is_served_from_the_store(app, client, login_as, evaluation, storage_backend):
    ev, office = evaluation
    row = archive.generate_workbook(ev, actor=office, now=NOW)
    assert storage().exists(f"evaluations/{row.sha256[:2]}/{row.sha256[2:4]}/{row.sha256}")
    login_as()
    download = client.get(f"/evaluation/files/{row.id}")
    assert download.status_code == 200 and hashlib.sha256(download.data).hexdigest() == row.sha256
    assert download.headers["Cache-Control"] == "private, no-store"


def test_a_staged_plan_upload_waits_in_the_store(app, storage_backend):
    data = FUSHUN.read_bytes()
    key = stage_upload(data, "方案.txt")
    assert storage().exists(f"staging/{key}") and load_staged(key) == (data, "方案.txt")
    assert not [item for item in files.durable_files() if item.key.startswith("staging/")]  # never backed up
    discard_staged(key)
    assert load_staged(key) is None and not storage().exists(f"staging/{key}")
