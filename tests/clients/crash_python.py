"""Send N tracks and pages through the real Segment Python client while the server is killed.

Usage: crash_python.py HOST WRITE_KEY N TAG SECONDS

Used by the kill -9 reliability test (conformance/tests/reliability/crash.rs) with
segment-analytics-python==2.4.0 from the repository's .venv. Every message carries its
messageId where the simulator stores it (a track's `properties.mid`, a page's title), over 200
users. The N messages are enqueued evenly over SECONDS, so the server's restarts happen while
the client is sending. The client retries a failed batch (connection refused or reset while the
server is down) with its own backoff; a batch it gives up on is reported through `on_error`.

Prints one JSON line: {"enqueued": N, "not_enqueued": [mid...], "failed": [mid...]}. Every
message not listed was answered 200 by the server.
"""

import json
import sys
import time

from segment.analytics import Client


def main() -> int:
    host, write_key, n, tag, seconds = sys.argv[1:6]
    n, seconds = int(n), float(seconds)
    failed = []
    client = Client(
        write_key=write_key,
        host=host,
        gzip=True,
        max_retries=30,
        max_queue_size=n + 1000,
        upload_size=100,
        on_error=lambda error, batch: failed.extend(m.get("messageId") for m in batch),
    )
    not_enqueued = []
    start = time.monotonic()
    for i in range(n):
        mid = f"{tag}-m{i}"
        user = f"{tag}-u{i % 200}"
        if i % 2 == 0:
            ok, _ = client.track(user, "Crash Test", {"mid": mid, "i": i}, message_id=mid)
        else:
            ok, _ = client.page(
                user,
                name="Pricing",
                properties={"url": f"https://shop.example.com/p/{i}", "title": mid},
                message_id=mid,
            )
        if not ok:
            not_enqueued.append(mid)
        # Pace: message i goes out at i/n of the run.
        lag = start + seconds * (i + 1) / n - time.monotonic()
        if lag > 0:
            time.sleep(lag)
    client.flush()
    client.shutdown()
    print(json.dumps({"enqueued": n - len(not_enqueued), "not_enqueued": not_enqueued, "failed": failed}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
