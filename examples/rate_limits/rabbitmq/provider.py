"""A stand-in for a third-party API that allows 10 calls a second.

It refuses the 11th call of a second with 429, as a real provider would,
and an export of an account that is already exporting with 409. GET /stats
counts what it saw. One process, so its counts are the whole truth.
"""

import threading
import time
import zlib

from flask import Flask, request

LIMIT_PER_SECOND = 10
EXPORT_SECONDS = 0.5

app = Flask(__name__)
lock = threading.Lock()
# The second of the clock now counted, and the calls made in it.
this_second = {"second": 0, "calls": 0}
exporting: set[int] = set()
stats = {"lookups": 0, "refused": 0, "exports": 0, "overlapping_exports": 0}


@app.get("/geocode")
def geocode() -> tuple[dict[str, object], int]:
    address = request.args.get("address", "")
    with lock:
        second = int(time.time())
        if this_second["second"] != second:
            this_second.update(second=second, calls=0)
        this_second["calls"] += 1
        if this_second["calls"] > LIMIT_PER_SECOND:
            stats["refused"] += 1
            return {"error": "Too many requests."}, 429
        stats["lookups"] += 1
    # Made-up coordinates that stay the same for the same address.
    digest = zlib.crc32(address.encode())
    return {
        "address": address,
        "lat": digest % 180 - 90,
        "lon": digest % 360 - 180,
    }, 200


@app.post("/exports/<int:account_id>")
def export(account_id: int) -> tuple[dict[str, object], int]:
    with lock:
        if account_id in exporting:
            stats["overlapping_exports"] += 1
            return {"error": f"Account {account_id} is already exporting."}, 409
        exporting.add(account_id)
    print(f"export of account {account_id} started", flush=True)
    time.sleep(EXPORT_SECONDS)
    with lock:
        exporting.discard(account_id)
        stats["exports"] += 1
    print(f"export of account {account_id} done", flush=True)
    return {"account_id": account_id}, 200


@app.get("/stats")
def show_stats() -> dict[str, int]:
    with lock:
        return stats
