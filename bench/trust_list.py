"""What the registry spends on a trust list and on a device's credentials, as the fleet grows.

For each fleet size, a registry on a SQLite file of its own gets that many devices, each with a
key (rows written as enrollment writes them). Then, in process and with the process's CPU time:

- a trust list still current (what a ``304`` costs): the list as each process keeps it
  (``server.authority.trust.current_list``: one read of the credentials' generation), against
  building
  it from the keys as every request did before (``trusted_keys`` and its entity tag);
- a device's credentials (``server.api.auth.require_device``): kept, against read from its row.

Prints one JSON line a size and a table. Never pass/fail.

    ./dev bench trust_list [--devices 10,100,1000] [--calls N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from field_sync.keys import public_key_pem
from field_sync.seal import key_id
from server.api.auth import _known_device, make_device_token, require_device
from server.authority.keys import RegistryKeys
from server.authority.trust import current_list, entity_tag, trusted_keys
from server.data.clock import now_ms, utcnow
from server.data.database import Database
from server.data.tables import DeviceKeyRow, DeviceRow, InspectorRow

URL = "https://registry.example"


def _fleet(database: Database, devices: int) -> str:
    """``devices`` enrolled devices of one inspector; the token of the first."""
    tokens = []
    with database.write() as session:
        session.add(InspectorRow(id="insp", full_name="Inspector", created_at=utcnow()))
        session.flush()
        for number in range(devices):
            key = ec.generate_private_key(ec.SECP256R1())
            pem = public_key_pem(key)
            device_id = f"device-{number:05d}"
            token, token_hash = make_device_token(device_id)
            tokens.append(token)
            session.add(DeviceRow(id=device_id, inspector_id="insp", public_key=pem,
                                  token_hash=token_hash, enrolled_at=utcnow(),
                                  last_seen_ms=now_ms()))
            session.flush()
            session.add(DeviceKeyRow(kid=key_id(key.public_key()).hex(), device_id=device_id,
                                     inspector_id="insp", public_key=pem,
                                     valid_from_ms=now_ms()))
    return tokens[0]


def _cpu_us(call: Callable[[], Any], calls: int) -> float:
    """Median CPU µs of ``call`` over five runs of ``calls`` calls each."""
    runs = []
    for _ in range(5):
        start = time.process_time()
        for _ in range(calls):
            call()
        runs.append((time.process_time() - start) / calls * 1e6)
    return statistics.median(runs)


def _built(database: Database, keys: RegistryKeys) -> str:
    with database.read() as session:
        return entity_tag(trusted_keys(session, keys, now_ms(), URL))


def measure(devices: int, calls: int, folder: Path) -> dict[str, Any]:
    database = Database(f"sqlite:///{folder / f'registry-{devices}.db'}")
    database.create_schema()
    keys = RegistryKeys.load(folder / f"keys-{devices}")
    token = _fleet(database, devices)
    request = SimpleNamespace(headers={"authorization": f"Bearer {token}"})
    device_id = token.partition(".")[0]
    try:
        return {
            "bench": "trust_list", "devices": devices,
            "kept_list_us": _cpu_us(lambda: current_list(database, keys, URL).tag, calls),
            "built_list_us": _cpu_us(lambda: _built(database, keys), max(calls // 20, 5)),
            "kept_device_us": _cpu_us(lambda: require_device(request, database), calls),
            "read_device_us": _cpu_us(lambda: _known_device(database, device_id), calls),
        }
    finally:
        database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", default="10,100,1000")
    parser.add_argument("--calls", type=int, default=400)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        rows = [measure(int(size), args.calls, Path(folder))
                for size in args.devices.split(",")]
    for row in rows:
        print(json.dumps(row))
    print(f"\n{'devices':>8} {'304, kept':>12} {'304, built':>12} {'device, kept':>14} "
          f"{'device, read':>14}   (CPU µs a call)")
    for row in rows:
        print(f"{row['devices']:>8} {row['kept_list_us']:>12.0f} {row['built_list_us']:>12.0f} "
              f"{row['kept_device_us']:>14.0f} {row['read_device_us']:>14.0f}")


if __name__ == "__main__":
    main()
