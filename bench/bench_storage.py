"""Benchmark: the file store and the read-replica routing (issue #18, docs/scaling.md).

Run from the repository root: `.venv/bin/python bench/bench_storage.py` (or `make bench`).

1. Store throughput: Storage.put and a streamed read (1 MB chunks) of 8 MB and 64 MB files, median of 3, on the
   local folder (a temporary directory) and on S3 — moto's standalone server started on 127.0.0.1, spoken to
   over HTTP through boto3 as MinIO would be. moto keeps objects in its process's memory and runs on the same
   2 cores, so its figures are a floor for the client side, not MinIO's speed. Peak Python memory of one put
   (tracemalloc) shows the upload is streamed: bounded by the multipart parts in flight, not the file size.
2. Replica routing overhead: the overview page (GET /overview/, office, the bundled plan published) on a fresh
   SQLite file, median of 40 requests, without DATABASE_REPLICA_URL and with it pointing at the same file (so
   the difference is the routing and the second pool, not a second machine); three alternating rounds each.

Benchmarks print numbers and never assert on timing: the exit status is 0 unless something fails to run.
"""
from __future__ import annotations

import hashlib
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

MB = 1024 * 1024
PUBLISHED = datetime(2026, 1, 5, 1, tzinfo=UTC)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def moto_server():
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
            return proc, url
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("moto server did not start")


def payload_file(size: int, folder: Path) -> Path:
    path = folder / f"payload-{size}"
    block = hashlib.sha256(str(size).encode()).digest() * (MB // 32)
    with open(path, "wb") as out:
        for _ in range(size // MB):
            out.write(block)
    return path


def measure(store, path: Path, size: int) -> tuple[float, float, int]:
    """(upload MB/s, download MB/s, peak traced bytes of the upload), medians of 3."""
    ups, downs, peaks = [], [], []
    for round_ in range(3):
        key = f"bench/{size}/{round_}"
        with open(path, "rb") as source:
            tracemalloc.start()
            began = time.perf_counter()
            store.put(key, source)
            ups.append(size / MB / (time.perf_counter() - began))
            peaks.append(tracemalloc.get_traced_memory()[1])
            tracemalloc.stop()
        began = time.perf_counter()
        with store.open(key) as stream:
            while stream.read(MB):
                pass
        downs.append(size / MB / (time.perf_counter() - began))
        store.delete(key)
    return statistics.median(ups), statistics.median(downs), max(peaks)


def bench_stores(folder: Path) -> None:
    from workflow.storage import LocalStorage, from_config

    proc, url = moto_server()
    try:
        s3 = from_config({"S3_BUCKET": "bench-storage", "S3_ENDPOINT_URL": url, "S3_ACCESS_KEY_ID": "bench",
                          "S3_SECRET_ACCESS_KEY": "bench"})
        s3.client.create_bucket(Bucket="bench-storage")
        stores = {"local folder": LocalStorage(folder / "store"), "S3 (moto over HTTP)": s3}
        print(f"\n{'store':<22}{'file':>8}{'upload MB/s':>14}{'download MB/s':>16}{'peak MB (put)':>16}")
        for size in (8 * MB, 64 * MB):
            path = payload_file(size, folder)
            for name, store in stores.items():
                up, down, peak = measure(store, path, size)
                print(f"{name:<22}{size // MB:>6} MB{up:>14.1f}{down:>16.1f}{peak / MB:>16.1f}")
            path.unlink()
    finally:
        proc.terminate()
        proc.wait(10)


def overview_median(database: str, folder: Path, **extra) -> float:
    from sqlalchemy import select

    from models import User
    from workflow import create_app
    from workflow.config import TestConfig
    from workflow.extensions import db

    config = {k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()}
    config.update(SQLALCHEMY_DATABASE_URI=database, UPLOAD_DIR=str(folder / "uploads"), **extra)
    app = create_app(config)
    client = app.test_client()
    with app.app_context():
        office = db.session.scalar(select(User).where(User.username == "office"))
        with client.session_transaction() as session:
            session.update({"_user_id": office.get_id(), "_fresh": True})
        db.session.remove()
    times = []
    for _ in range(41):
        began = time.perf_counter()
        assert client.get("/overview/").status_code == 200
        times.append(time.perf_counter() - began)
    with app.app_context():
        db.engine.dispose()
    return statistics.median(times[1:])


def bench_replica(folder: Path) -> None:
    import flask_migrate

    from models import Plan
    from workflow import create_app
    from workflow.assignments.services import publish_plan
    from workflow.config import TestConfig
    from workflow.demo import load_demo
    from workflow.extensions import db

    database = f"sqlite:///{folder / 'bench.sqlite'}"
    config = {k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()}
    config.update(SQLALCHEMY_DATABASE_URI=database, UPLOAD_DIR=str(folder / "uploads"))
    app = create_app(config)
    with app.app_context():
        flask_migrate.upgrade()
        loaded = load_demo(now=PUBLISHED)
        publish_plan(db.session.get(Plan, loaded["plan_id"]), actor=None, now=PUBLISHED, first_period="2026Q1")
        db.session.commit()
        db.engine.dispose()
    overview_median(database, folder)  # warm-up: templates, translations, the periods the page opens
    rounds: dict[str, list[float]] = {"primary": [], "routed": []}
    for _ in range(3):  # alternating, so that the other load of the machine falls on both alike
        rounds["primary"].append(overview_median(database, folder))
        rounds["routed"].append(overview_median(database, folder, DATABASE_REPLICA_URL=database))
    primary, routed = (statistics.median(times) for times in rounds.values())
    print(f"\nGET /overview/ (SQLite, bundled plan), median of 3 rounds of 40: primary only {primary * 1000:.1f} ms, "
          f"through the replica engine {routed * 1000:.1f} ms ({routed / primary:.2f}×)")


def main() -> int:
    import logging

    logging.getLogger("alembic").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        bench_stores(Path(tmp))
        bench_replica(Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
