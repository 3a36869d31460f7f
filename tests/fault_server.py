"""The app in a process of its own, for tests that kill it: `python tests/fault_server.py PORT MARKER`.

The database and the store come from TEST_DATABASE_URL and UPLOAD_DIR (or S3_* for a bucket). The one fault
injected: right after an attachment's bytes reach the store (before its row is committed) the process writes the
blob's key to MARKER and stalls, so the test can `kill -9` it at exactly that moment."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from werkzeug.serving import run_simple  # noqa: E402

from tests.conftest import _config  # noqa: E402
from workflow import create_app, files  # noqa: E402


def main() -> None:
    port, marker = int(sys.argv[1]), Path(sys.argv[2])
    written = files._keep

    def write_then_stall(where, digest, stream):
        key = written(where, digest, stream)
        marker.write_text(key)
        time.sleep(60)
        return key

    files._keep = write_then_stall
    s3 = {name: os.environ[name] for name in os.environ if name.startswith("S3_")}
    app = create_app(_config(os.environ["TEST_DATABASE_URL"], UPLOAD_DIR=os.environ["UPLOAD_DIR"], **s3))
    run_simple("127.0.0.1", port, app, threaded=True)


if __name__ == "__main__":
    main()
