"""What the Prometheus metrics cost a push, in process, interleaved.

Two registries in this process on SQLite files of their own, one as it runs (per-route counts
and latencies in Litestar's middleware, ops counted by status and code from the push's results,
the device noted as seen) and one without any of it; pushes of the same size go to each in turn,
so that the machine's load falls on both alike. Prints the median time of a push on each, their
ratio, and the CPU time ``count_push`` takes for a push's results alone. Never pass/fail.

    ./dev bench metrics_cost [--pushes N] [--ops N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

import msgspec
from cryptography.hazmat.primitives.asymmetric import ec
from litestar.plugins.prometheus import PrometheusConfig
from litestar.testing import AsyncTestClient

import server.app
import server.routes.sync
from field_sync import pack
from field_sync.keys import public_key_pem
from schemas import Op, OpResult
from server import ServerConfig, create_app
from server.metrics import count_push

TOKEN = "bench-admin-token"  # noqa: S105 - a throwaway registry's
ADMIN = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json",
         "Accept": "application/json"}
TEMPLATE = "metrology_supervision@1"


def _uncounted() -> Any:
    """A registry built with the middleware excluding every route and the counting off."""
    def no_middleware(**settings: Any) -> PrometheusConfig:
        return PrometheusConfig(**settings, exclude=[".*"])
    return mock.patch.object(server.app, "PrometheusConfig", no_middleware)


class Device:
    """An enrolled device pushing protocols of ``ops`` field writes each."""

    def __init__(self, client: AsyncTestClient, device_id: str, token: str) -> None:  # type: ignore[type-arg]
        self.client, self.id, self.seq = client, device_id, 0
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    @classmethod
    async def enroll(cls, client: AsyncTestClient) -> Device:  # type: ignore[type-arg]
        await client.post("/v1/admin/inspectors", headers=ADMIN,
                          json={"id": "bench", "full_name": "Bench"})
        await client.put("/v1/admin/assignments/A", headers=ADMIN,
                         json={"id": "A", "title": "A", "inspectors": ["bench"]})
        code = (await client.post("/v1/admin/inspectors/bench/enrollment-codes",
                                  headers=ADMIN)).json()["code"]
        key = public_key_pem(ec.generate_private_key(ec.SECP256R1()))
        body = (await client.post("/v1/enroll", json={"code": code, "public_key": key})).json()
        return cls(client, body["device_id"], body["token"])

    def _op(self, doc: str, path: str, value: object) -> Op:
        self.seq += 1
        return Op(self.id, self.seq, doc, path, value, pack(time.time_ns() // 1_000_000,
                                                            self.seq))

    async def push(self, ops: int) -> float:
        doc = str(uuid.uuid4())
        batch = [self._op(doc, "", {"_template": TEMPLATE, "_assignment": "A"})]
        batch += [self._op(doc, f"measurements/{uuid.uuid4()}/nominal", f"{i}.000")
                  for i in range(ops - 1)]
        body = msgspec.json.encode({"ops": batch})
        started = time.perf_counter()
        response = await self.client.post("/v1/push", headers=self.headers, content=body)
        elapsed = time.perf_counter() - started
        assert response.status_code == 200, response.text
        return elapsed


async def _run(pushes: int, ops: int, folder: Path) -> dict[str, float]:
    counted = create_app(ServerConfig(data_dir=folder / "on", admin_token=TOKEN))
    with _uncounted(), warnings.catch_warnings(action="ignore"):  # "disables the middleware"
        uncounted = create_app(ServerConfig(data_dir=folder / "off", admin_token=TOKEN))
    quiet: dict[str, Callable[..., None]] = {name: lambda *_: None for name in (
        "count_push", "count_pull")}
    times: dict[str, list[float]] = {"on": [], "off": []}
    async with AsyncTestClient(app=counted) as on, AsyncTestClient(app=uncounted) as off:
        devices = {"on": await Device.enroll(on), "off": await Device.enroll(off)}
        for round_ in range(pushes + 2):
            for name in ("on", "off") if round_ % 2 else ("off", "on"):
                if name == "off":
                    with mock.patch.multiple(server.routes.sync, **quiet):
                        elapsed = await devices[name].push(ops)
                else:
                    elapsed = await devices[name].push(ops)
                if round_ >= 2:  # the first rounds warm caches up
                    times[name].append(elapsed)
    return {name: statistics.median(values) * 1000 for name, values in times.items()}


def _count_push_cpu_us(ops: int, rounds: int = 200) -> float:
    results = [OpResult(seq, "accepted") for seq in range(ops)]
    results[::50] = [OpResult(seq, "rejected", "bad_value") for seq in range(len(results[::50]))]
    started = time.process_time()
    for _ in range(rounds):
        count_push(results)
    return (time.process_time() - started) / rounds * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pushes", type=int, default=40, help="pushes to each registry")
    parser.add_argument("--ops", type=int, default=500, help="ops in a push")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        medians = asyncio.run(_run(args.pushes, args.ops, Path(folder)))
    cpu = {ops: _count_push_cpu_us(ops) for ops in (args.ops, 50_000)}
    figures = {"push_ms_with_metrics": round(medians["on"], 2),
               "push_ms_without": round(medians["off"], 2),
               "ratio": round(medians["on"] / medians["off"], 3),
               **{f"count_push_cpu_us_{ops}_ops": round(us, 1) for ops, us in cpu.items()}}
    print(msgspec.json.encode(figures).decode())
    print(f"push of {args.ops} ops, median of {args.pushes}: {medians['on']:.2f} ms with "
          f"metrics, {medians['off']:.2f} ms without (x{figures['ratio']}); counting a push's "
          f"results: {cpu[args.ops]:.0f} µs for {args.ops} ops, {cpu[50_000]:.0f} µs for 50,000")


if __name__ == "__main__":
    main()
