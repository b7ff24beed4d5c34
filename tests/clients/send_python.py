"""Send identify, page, track and group through the real Segment Python client.

Usage: send_python.py HOST WRITE_KEY USER_ID GROUP_ID

Used by the forwarder's end-to-end test (tests/forwarder/clients.rs) with
segment-analytics-python==2.4.0 from the repository's .venv. Uses gzip, as
`Client(gzip=True)` does in production set-ups, and exits non-zero if the
client reports any error.
"""

import sys

from segment.analytics import Client


def main() -> int:
    host, write_key, user_id, group_id = sys.argv[1:5]
    errors = []
    client = Client(
        write_key=write_key,
        host=host,
        gzip=True,
        max_retries=2,
        on_error=lambda error, batch: errors.append(repr(error)),
    )
    context = {
        "ip": "203.0.113.7",
        "userAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
        "locale": "pl-PL",
    }
    client.identify(
        user_id,
        {"email": f"{user_id}@example.com", "firstName": "Ada", "lastName": "Python", "plan": "pro"},
        context=context,
    )
    client.page(
        user_id,
        category="Docs",
        name="Pricing",
        properties={"url": "https://shop.example.com/pricing", "path": "/pricing", "title": "Pricing"},
    )
    client.track(user_id, "Order Completed", {"order_id": "o-1", "revenue": 42.5})
    client.group(user_id, group_id, {"name": "Python Ltd", "employees": 12})
    client.flush()
    client.shutdown()
    if errors:
        print("segment client errors: " + "; ".join(errors), file=sys.stderr)
        return 1
    print("python client: 4 calls sent")
    return 0


if __name__ == "__main__":
    sys.exit(main())
