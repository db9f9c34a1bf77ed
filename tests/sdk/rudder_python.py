"""RudderStack's Python library, unmodified and with its default settings (gzip bodies, identify
traits only in context.traits), sending to Kizuna.

Usage: rudder_python.py URL WRITE_KEY PREFIX. The same calls as segment_python.py: identify,
track before grouping, group with traits, track after grouping and page, then all again with the
same messageIds. Exits non-zero if the library reports an error.
"""

import sys
from datetime import datetime, timezone

import rudderstack.analytics as rudder_analytics

url, key, p = sys.argv[1:4]
errors = []


def on_error(error, items):
    errors.append(f"{error} ({len(items)} messages)")


rudder_analytics.write_key = key
rudder_analytics.dataPlaneUrl = url
rudder_analytics.on_error = on_error

at = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)
user = f"{p}-u1"


def send():
    rudder_analytics.identify(user, {"email": f"{p}-ann@example.com", "name": "Ann Lee", "title": "CTO"}, timestamp=at, message_id=f"{p}-m1")
    rudder_analytics.track(user, "report_created", {"rows": 3}, timestamp=at, message_id=f"{p}-m2")
    rudder_analytics.group(user, f"{p}-acct", {"name": f"Initech {p}", "plan": "pro", "employees": 120}, timestamp=at, message_id=f"{p}-m3")
    rudder_analytics.track(user, "login", timestamp=at, message_id=f"{p}-m4")
    rudder_analytics.page(user, name="Dashboard", timestamp=at, message_id=f"{p}-m5")
    rudder_analytics.flush()


send()
send()
rudder_analytics.shutdown()
if errors:
    sys.exit("rudder-sdk-python reported: " + "; ".join(errors))
print("sent")
