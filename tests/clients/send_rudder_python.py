"""Send identify, page, track and group through RudderStack's Python SDK.

Usage: send_rudder_python.py HOST WRITE_KEY USER_ID GROUP_ID

Used by the forwarder's end-to-end test (tests/forwarder/clients.rs) with
rudder-sdk-python==2.1.9 from the repository's .venv. This SDK sends identify
traits only in `context.traits` (none at the root), which the forwarder merges
under `traits`. Exits non-zero if the SDK reports any error.
"""

import sys

from rudderstack.analytics.client import Client


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
        {"email": f"{user_id}@example.com", "firstName": "Ada", "lastName": "Rudder", "plan": "pro"},
        context=context,
    )
    client.page(
        user_id,
        category="Docs",
        name="Pricing",
        properties={"url": "https://shop.example.com/pricing", "path": "/pricing", "title": "Pricing"},
    )
    client.track(user_id, "Order Completed", {"order_id": "o-1", "revenue": 42.5})
    client.group(user_id, group_id, {"name": "Rudder Python Ltd", "employees": 12})
    client.flush()
    client.join()
    if errors:
        print("rudderstack client errors: " + "; ".join(errors), file=sys.stderr)
        return 1
    print("rudderstack python client: 4 calls sent")
    return 0


if __name__ == "__main__":
    sys.exit(main())
