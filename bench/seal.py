"""Sign, seal, QR and verify, per protocol: the tablet's signing path and a verifier's check.

Prints one JSON line and a table. Figures are medians over many rounds (the machine is shared),
never pass/fail.

    ./dev bench seal [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import uuid
from collections.abc import Callable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from field_sync import canonical_bytes, content_hash
from field_sync.keys import public_key_pem
from field_sync.qr import qr_png, qr_version
from field_sync.seal import Claim, key_id, make_seal
from field_sync.signing import b64url
from field_sync.verify import verify_seal
from schemas.signing import (
    LocationFix,
    SigningStatement,
    TotpConfirmation,
    TrustedKey,
    TrustList,
)


def _median_ms(work: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=300)
    rounds = parser.parse_args().rounds

    key = ec.generate_private_key(ec.SECP256R1())
    kid = key_id(key.public_key())
    protocol = {"id": str(uuid.uuid4()), "fields": {"number": "TR-2026-0000001",
                                                   "entity_tin": "301245678"}}
    digest = content_hash(protocol)
    statement = SigningStatement(
        protocol_id=protocol["id"], content_hash=digest, vector={"device": 42},
        signer="insp-0001", device_id="device", kid=kid.hex(), signed_at_ms=1_795_000_000_000,
        confirmation=TotpConfirmation("492039"),
        location=LocationFix("41.311081", "69.240562", "8", 1_795_000_000_000))
    claim = Claim(protocol["id"], "TR-2026-0000001", "MSP", "301245678", "compliant",
                  1_795_000_000, digest)

    def sign_der(data: bytes) -> bytes:
        return key.sign(data, ec.ECDSA(hashes.SHA256()))

    def sign_and_seal() -> str:
        b64url(sign_der(canonical_bytes(statement)))
        return make_seal(claim, sign_der, kid, "https://verify.tris.gov.uz")

    seal = sign_and_seal()
    trust = TrustList(0, public_key_pem(key), [TrustedKey(kid.hex(), public_key_pem(key),
                                                          "insp-0001", "device", 0)],
                      public_url="https://verify.tris.gov.uz")
    assert verify_seal(seal, trust).genuine
    figures = {
        "seal_chars": len(seal),
        "qr_version": qr_version(seal),
        "sign_and_seal_ms": round(_median_ms(sign_and_seal, rounds), 3),
        "qr_png_ms": round(_median_ms(lambda: qr_png(seal), max(rounds // 10, 10)), 3),
        "verify_ms": round(_median_ms(lambda: verify_seal(seal, trust), rounds), 3),
    }
    figures["verify_per_s_one_core"] = round(1000 / figures["verify_ms"])
    print(json.dumps(figures))
    print(f"{'figure':<24}{'value':>12}   target")
    targets = {"seal_chars": "<= 320", "qr_version": "<= 13 (level Q)",
               "sign_and_seal_ms": "< 5 ms", "qr_png_ms": "< 25 ms",
               "verify_ms": "", "verify_per_s_one_core": ">= 3,000"}
    for name, value in figures.items():
        print(f"{name:<24}{value:>12}   {targets[name]}")


if __name__ == "__main__":
    main()
