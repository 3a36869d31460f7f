"""Where stored files live: a local folder (one host) or S3-compatible object storage (MinIO, Ceph, S3: several
app hosts share one bucket). workflow.files decides *what* is stored under which key (areas, sha256 names, type
checks); this module only moves bytes, streaming, never a whole file in memory.

Keys are POSIX paths ("attachments/ab/cd/<sha256>"). Writes are atomic in both backends: a local file is renamed
into place, an S3 object appears whole when its PUT (or multipart upload) completes. The backend comes from the
configuration (S3_BUCKET set: S3, otherwise UPLOAD_DIR), one instance per app and settings (`storage()`)."""
from __future__ import annotations

import io
import os
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from flask import current_app

CHUNK = 1024 * 1024
TEMP_PREFIX = ".tmp-"


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    modified: datetime  # aware UTC


def _valid_key(key: str) -> str:
    path = PurePosixPath(key)
    if not key or path.is_absolute() or ".." in path.parts or key != path.as_posix():
        raise ValueError(f"invalid storage key: {key!r}")
    return key


class Storage(ABC):
    """The operations the file store needs, the same on every backend."""

    @abstractmethod
    def put(self, key: str, source: BinaryIO) -> None:
        """Keep the stream's bytes (from its current position) under `key`, replacing what was there."""

    @abstractmethod
    def open_sized(self, key: str) -> tuple[BinaryIO, int]:
        """A readable stream of the object and its size; FileNotFoundError if absent. The caller closes it."""

    def open(self, key: str) -> BinaryIO:
        return self.open_sized(key)[0]

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object; absent is fine."""

    @abstractmethod
    def list(self, prefix: str = "") -> Iterator[StoredObject]:
        """Every complete object whose key starts with `prefix`, in key order (temporary files left out)."""

    def local_path(self, key: str) -> Path | None:
        """The object's file when the backend is a local folder (served with sendfile); None otherwise."""
        return None

    @abstractmethod
    def sweep_partial(self, prefix: str, older_than: datetime) -> list[str]:
        """Remove half-written uploads under `prefix` that a killed process left, begun before `older_than`."""

    def put_bytes(self, key: str, data: bytes) -> None:
        self.put(key, io.BytesIO(data))

    def read_bytes(self, key: str) -> bytes:
        with self.open(key) as stream:
            return stream.read()

    def download(self, key: str, target: Path) -> None:
        """Copy the object into a local file, in chunks."""
        target.parent.mkdir(parents=True, exist_ok=True)
        with self.open(key) as stream, open(target, "wb") as out:
            shutil.copyfileobj(stream, out, CHUNK)

    def staging_folder(self, prefix: str) -> Path:
        """A fresh local folder to assemble files in before `replace_areas` takes them."""
        return Path(tempfile.mkdtemp(prefix=f".{prefix}-"))

    def replace_areas(self, staged: Path, keep: Callable[[str], bool]) -> None:
        """Make the store hold exactly the files under `staged` (same layout), except the areas `keep(name)`
        says to leave alone. Objects are uploaded first and strays deleted after, so a failure midway leaves
        every staged file present; running it again finishes the job."""
        try:
            wanted = set()
            for path in sorted(p for p in staged.rglob("*") if p.is_file()):
                key = path.relative_to(staged).as_posix()
                wanted.add(key)
                with open(path, "rb") as source:
                    self.put(key, source)
            for item in list(self.list()):
                if item.key not in wanted and not keep(item.key.split("/", 1)[0]):
                    self.delete(item.key)
        finally:
            shutil.rmtree(staged, ignore_errors=True)


class LocalStorage(Storage):
    """A folder outside the web root: files renamed into place from a temp file in the same directory."""

    def __init__(self, root: Path | str):
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root / _valid_key(key)

    def put(self, key: str, source: BinaryIO) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Temp file in the same directory so os.replace is atomic: readers never see a half-written file.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=TEMP_PREFIX)
        try:
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(source, out, CHUNK)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def open_sized(self, key: str) -> tuple[BinaryIO, int]:
        try:
            stream = open(self._path(key), "rb")  # noqa: SIM115 -- the caller closes it
        except (FileNotFoundError, IsADirectoryError) as exc:
            raise FileNotFoundError(key) from exc
        return stream, os.fstat(stream.fileno()).st_size

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def local_path(self, key: str) -> Path | None:
        return self._path(key)

    def _files(self, prefix: str) -> Iterator[Path]:
        base = self.root / prefix.rsplit("/", 1)[0] if "/" in prefix else self.root
        if not base.is_dir():
            return
        for path in sorted(base.rglob("*")):
            relative = path.relative_to(self.root)
            # dot-folders at the top are work in progress (a restore's staging, a retired copy)
            if relative.parts[0].startswith(".") or not relative.as_posix().startswith(prefix):
                continue
            if path.is_file():
                yield path

    def list(self, prefix: str = "") -> Iterator[StoredObject]:
        for path in self._files(prefix):
            if not path.name.startswith(TEMP_PREFIX):
                stat = path.stat()
                yield StoredObject(path.relative_to(self.root).as_posix(), stat.st_size,
                                   datetime.fromtimestamp(stat.st_mtime, UTC))

    def sweep_partial(self, prefix: str, older_than: datetime) -> list[str]:
        cutoff = older_than.timestamp()
        removed = []
        for path in list(self._files(prefix)):
            if path.name.startswith(TEMP_PREFIX) and path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                removed.append(path.relative_to(self.root).as_posix())
        return removed

    def staging_folder(self, prefix: str) -> Path:
        """Inside the store, on its file system, so that replace_areas can rename the areas into place."""
        self.root.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(dir=self.root, prefix=f".{prefix}-"))

    def _areas(self, root: Path, keep: Callable[[str], bool]) -> list[Path]:
        if not root.is_dir():
            return []
        return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".") and not keep(p.name))

    def replace_areas(self, staged: Path, keep: Callable[[str], bool]) -> None:
        """Each area swapped for its staged copy by renames (all or nothing); areas the copy lacks removed."""
        if staged.parent != self.root:
            return super().replace_areas(staged, keep)
        retired = Path(tempfile.mkdtemp(dir=self.root, prefix=".retired-"))
        moved_out: list[str] = []
        moved_in: list[str] = []
        try:
            for folder in self._areas(self.root, keep):
                folder.rename(retired / folder.name)
                moved_out.append(folder.name)
            for folder in self._areas(staged, keep):
                folder.rename(self.root / folder.name)
                moved_in.append(folder.name)
        except OSError:
            for name in moved_in:  # put everything back as it was
                (self.root / name).rename(staged / name)
            for name in moved_out:
                (retired / name).rename(self.root / name)
            retired.rmdir()
            raise
        finally:
            shutil.rmtree(staged, ignore_errors=True)
        shutil.rmtree(retired, ignore_errors=True)


class S3Storage(Storage):
    """One bucket (and an optional key prefix) of an S3-compatible server, through boto3: multipart uploads for
    big files (s3transfer, in chunks from the stream), downloads streamed from the response body."""

    def __init__(self, *, bucket: str, endpoint_url: str | None = None, access_key: str | None = None,
                 secret_key: str | None = None, region: str | None = None, prefix: str = ""):
        import boto3
        from boto3.s3.transfer import TransferConfig
        from botocore.config import Config as BotoConfig

        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        # Path-style addressing and checksums only where required: what MinIO and older Ceph gateways accept.
        self.client = boto3.client(
            "s3", endpoint_url=endpoint_url, aws_access_key_id=access_key, aws_secret_access_key=secret_key,
            region_name=region or "us-east-1",
            config=BotoConfig(s3={"addressing_style": "path"}, signature_version="s3v4",
                              request_checksum_calculation="when_required",
                              response_checksum_validation="when_required",
                              retries={"max_attempts": 5, "mode": "standard"}))
        # Memory per upload is bounded by the parts in flight (two of 8 MB; ~27 MB peak measured), not the file.
        self.transfer = TransferConfig(multipart_threshold=8 * CHUNK, multipart_chunksize=8 * CHUNK,
                                       max_concurrency=2, io_chunksize=CHUNK)
        self.transfer.max_in_memory_upload_chunks = 2  # s3transfer's setting, not among boto3's arguments

    def _key(self, key: str) -> str:
        return self.prefix + _valid_key(key)

    def put(self, key: str, source: BinaryIO) -> None:
        self.client.upload_fileobj(source, self.bucket, self._key(key), Config=self.transfer)

    def open_sized(self, key: str) -> tuple[BinaryIO, int]:
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except self.client.exceptions.NoSuchKey as exc:
            raise FileNotFoundError(key) from exc
        return answer["Body"], answer["ContentLength"]

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def list(self, prefix: str = "") -> Iterator[StoredObject]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix + prefix)
        for page in pages:
            for item in page.get("Contents", []):
                yield StoredObject(item["Key"][len(self.prefix):], item["Size"], item["LastModified"])

    def sweep_partial(self, prefix: str, older_than: datetime) -> list[str]:
        """Multipart uploads a killed process never completed keep their parts (billed, invisible) until aborted."""
        removed = []
        pages = self.client.get_paginator("list_multipart_uploads").paginate(
            Bucket=self.bucket, Prefix=self.prefix + prefix)
        for page in pages:
            for upload in page.get("Uploads", []):
                if upload["Initiated"] < older_than:
                    self.client.abort_multipart_upload(Bucket=self.bucket, Key=upload["Key"],
                                                       UploadId=upload["UploadId"])
                    removed.append(upload["Key"][len(self.prefix):])
        return removed



def from_config(config) -> Storage:
    """S3 when S3_BUCKET is set (S3_ENDPOINT_URL for MinIO/Ceph), the UPLOAD_DIR folder otherwise."""
    bucket = config.get("S3_BUCKET")
    if not bucket:
        return LocalStorage(config["UPLOAD_DIR"])
    return S3Storage(bucket=bucket, endpoint_url=config.get("S3_ENDPOINT_URL") or None,
                     access_key=config.get("S3_ACCESS_KEY_ID") or None,
                     secret_key=config.get("S3_SECRET_ACCESS_KEY") or None,
                     region=config.get("S3_REGION") or None, prefix=config.get("S3_PREFIX") or "")


_SETTINGS = ("UPLOAD_DIR", "S3_BUCKET", "S3_ENDPOINT_URL", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY", "S3_REGION",
             "S3_PREFIX")


def storage() -> Storage:
    """The running app's store, made once per app and settings (a boto3 client is thread-safe and reusable)."""
    settings = tuple(current_app.config.get(name) for name in _SETTINGS)
    cache = current_app.extensions.setdefault("storage", {})
    if settings not in cache:
        cache.clear()
        cache[settings] = from_config(current_app.config)
    return cache[settings]
