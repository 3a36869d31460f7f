"""The app in a process of its own, for tests that kill it: `python tests/fault_server.py PORT MARKER`.

The database and upload folder come from TEST_DATABASE_URL and UPLOAD_DIR. The one fault injected: right after
an attachment's bytes reach the disk (before its row is committed) the process writes MARKER and stalls, so the
test can `kill -9` it at exactly that moment."""
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
    written = files.write_blob

    def write_then_stall(root, data):
        result = written(root, data)
        marker.write_text(str(result[1]))
        time.sleep(60)
        return result

    files.write_blob = write_then_stall
    app = create_app(_config(os.environ["TEST_DATABASE_URL"], UPLOAD_DIR=os.environ["UPLOAD_DIR"]))
    run_simple("127.0.0.1", port, app, threaded=True)


if __name__ == "__main__":
    main()
