"""Segment's or RudderStack's Python library, unmodified and with its default settings, sending to
Kizuna (RudderStack's gzips its bodies and sends identify traits only in context.traits).

Usage: python_client.py segment|rudder URL WRITE_KEY PREFIX. Sends identify, track before
grouping, group with traits, track after grouping and page, flushes, then sends the same messages
again (same messageIds, as a client retrying after a lost answer would). Exits non-zero if the
library reports an error. crates/cli/tests/it/sdk.rs checks what was stored.
"""

import sys
from datetime import datetime, timezone

library, url, key, p = sys.argv[1:5]
if library == "segment":
    import segment.analytics as analytics

    analytics.host = url
    package = "segment-analytics-python"
else:
    import rudderstack.analytics as analytics

    analytics.dataPlaneUrl = url
    package = "rudder-sdk-python"
errors = []


def on_error(error, items):
    errors.append(f"{error} ({len(items)} messages)")


analytics.write_key = key
analytics.on_error = on_error

at = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)
user = f"{p}-u1"


def send():
    analytics.identify(user, {"email": f"{p}-ann@example.com", "name": "Ann Lee", "title": "CTO"}, timestamp=at, message_id=f"{p}-m1")
    analytics.track(user, "report_created", {"rows": 3}, timestamp=at, message_id=f"{p}-m2")
    analytics.group(user, f"{p}-acct", {"name": f"Initech {p}", "plan": "pro", "employees": 120}, timestamp=at, message_id=f"{p}-m3")
    analytics.track(user, "login", timestamp=at, message_id=f"{p}-m4")
    analytics.page(user, name="Dashboard", timestamp=at, message_id=f"{p}-m5")
    analytics.flush()


send()
send()
analytics.shutdown()
if errors:
    sys.exit(f"{package} reported: " + "; ".join(errors))
print("sent")
