"""``field-sync`` answers like a tool: one line on stderr, a documented exit code, never a
traceback; run as a real process, with no registry (or with something that is not one)."""

from __future__ import annotations

import http.server
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from field_sync_cli.local_server import free_port
from schemas.signing import TrustList
from tests.command import field_sync, field_sync_command

pytestmark = pytest.mark.database_free

SEAL = "HTTP://127.0.0.1:8470/V/FS1ABCDEFGHIJKLMNOP"


def one_line(result: subprocess.CompletedProcess[str], code: int, *phrases: str) -> str:
    """The single line the command wrote on stderr, having exited ``code``."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("field-sync: "), lines[0]
    for phrase in phrases:
        assert phrase in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def down() -> str:
    """An address where nothing listens."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture(scope="module")
def not_a_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A web server on loopback that is not a registry (it serves an empty folder)."""
    folder = tmp_path_factory.mktemp("www")
    (folder / "index.html").write_text("<html><body>hello</body></html>")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(folder), **kwargs)  # type: ignore[arg-type]

        def log_message(self, *_: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def unsigned_trust_list(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A trust list that reads as one, signed by nobody."""
    path = tmp_path_factory.mktemp("trust") / "trust-list.json"
    path.write_bytes(msgspec.json.encode(TrustList(registry_key="", keys=[], signature="",
                                                   issued_at_ms=0)))
    return path


# -- verify ------------------------------------------------------------------------------------


def test_verify_a_missing_file_says_no_such_file(tmp_path: Path,
                                                 unsigned_trust_list: Path) -> None:
    result = field_sync("verify", "nothere.png", "--trust-list", str(unsigned_trust_list),
                        cwd=tmp_path)
    one_line(result, 3, "nothere.png", "no such file")
    assert "malformed" not in result.stderr.lower() + result.stdout.lower()


def test_verify_with_the_server_down(down: str) -> None:
    one_line(field_sync("verify", SEAL, "--server", down), 3, "could not reach", down)


def test_verify_with_a_url_without_a_scheme() -> None:
    one_line(field_sync("verify", SEAL, "--server", "127.0.0.1:8470"), 2, "--server",
             "http(s) address")


def test_verify_with_a_url_that_is_not_a_registry(not_a_registry: str) -> None:
    one_line(field_sync("verify", SEAL, "--server", not_a_registry), 3,
             "did not answer as a field-sync registry")


def test_verify_an_image_that_is_not_one(tmp_path: Path, unsigned_trust_list: Path) -> None:
    fake = tmp_path / "seal.png"
    fake.write_text("not a picture")
    one_line(field_sync("verify", str(fake), "--trust-list", str(unsigned_trust_list)), 3,
             "seal.png", "not an image")


def test_verify_with_a_missing_trust_list(tmp_path: Path) -> None:
    one_line(field_sync("verify", SEAL, "--trust-list", str(tmp_path / "gone.json")), 3,
             "gone.json", "no such file")


def test_verify_with_a_broken_trust_list(tmp_path: Path) -> None:
    broken = tmp_path / "trust-list.json"
    broken.write_text('{"registry_key": "')
    one_line(field_sync("verify", SEAL, "--trust-list", str(broken)), 3, "trust-list.json",
             "not a trust list")


def test_verify_an_empty_argument(unsigned_trust_list: Path) -> None:
    one_line(field_sync("verify", "", "--trust-list", str(unsigned_trust_list)), 2,
             "the seal is empty")


def test_verify_without_a_trust_source_is_a_usage_error() -> None:
    one_line(field_sync("verify", SEAL), 2, "--trust-list")


def test_verify_piped_into_a_closed_reader(unsigned_trust_list: Path) -> None:
    """``field-sync verify ... | head`` when head has gone: no traceback, no noise."""
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the command writes a byte
    try:
        done = subprocess.run([*field_sync_command(), "verify", SEAL, "--trust-list",
                               str(unsigned_trust_list), "--registry-key", "ab" * 32],
                              stdout=write, stderr=subprocess.PIPE,
                              text=True, timeout=60, check=False)
    finally:
        os.close(write)
    assert done.returncode == 1, done.stderr
    assert done.stderr == ""


# -- admin, demo, export, audit ----------------------------------------------------------------


def test_admin_import_with_the_server_down(tmp_path: Path, down: str) -> None:
    sites = tmp_path / "sites.csv"
    sites.write_text("id,entity_tin\n")
    one_line(field_sync("admin", "import", str(sites), "--server", down, "--admin-token", "t"),
             3, "could not reach")


def test_admin_import_of_a_missing_file(tmp_path: Path) -> None:
    one_line(field_sync("admin", "import", str(tmp_path / "sites.csv"), "--admin-token", "t"),
             3, "sites.csv", "no such file")


def test_a_missing_administrator_token_is_a_usage_error(tmp_path: Path, down: str) -> None:
    for command in (["admin", "enroll-code", "insp-1"], ["export"],
                    ["demo", "--server", down]):
        one_line(field_sync(*command, "--server", down, "--data-dir", str(tmp_path)), 2,
                 "--admin-token", "FIELD_SYNC_ADMIN_TOKEN")


def test_the_token_is_taken_from_the_environment_or_the_data_directory(
        tmp_path: Path, down: str) -> None:
    """With a token found, the commands go on to the registry (here: down, so exit 3)."""
    (tmp_path / "admin-token").write_text("from-the-file\n")
    for command in (["admin", "revoke-device", "d-1"], ["export"], ["demo"]):
        one_line(field_sync(*command, "--server", down, "--data-dir", str(tmp_path)), 3,
                 "could not reach")
        one_line(field_sync(*command, env={"FIELD_SYNC_SERVER": down,
                                           "FIELD_SYNC_ADMIN_TOKEN": "from-the-env"}), 3,
                 "could not reach")


def test_audit_verify_with_no_database_makes_none(tmp_path: Path) -> None:
    one_line(field_sync("audit", "verify", "--data-dir", str(tmp_path / "registry")), 3,
             "no such database")
    assert not (tmp_path / "registry").exists()


def test_audit_verify_with_a_database_that_does_not_answer(down: str) -> None:
    url = down.replace("http://", "postgresql://nobody@")
    one_line(field_sync("audit", "verify", "--db", url + "/registry"), 3,
             "could not reach the database")


def test_an_unknown_command_and_a_bad_setting_are_usage_errors() -> None:
    one_line(field_sync("nothing"), 2, "No such command")
    one_line(field_sync("serve", "--public-url", "registry.example.uz"), 2, "--public-url")
    one_line(field_sync("serve", env={"FIELD_SYNC_MAX_BODY_BYTES": "lots"}), 2,
             "FIELD_SYNC_MAX_BODY_BYTES", "not a whole number")
    one_line(field_sync("serve", "--confirmation", "fingerprint"), 2, "--confirmation")


# -- the conventions ---------------------------------------------------------------------------


def test_version() -> None:
    result = field_sync("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == "field-sync, version 0.1.0"


def test_every_option_says_its_default_and_the_shared_ones_their_variable() -> None:
    for command, variables in ((["admin", "import"], ["FIELD_SYNC_SERVER",
                                                      "FIELD_SYNC_ADMIN_TOKEN",
                                                      "FIELD_SYNC_DATA_DIR"]),
                               (["audit", "verify"], ["FIELD_SYNC_DB", "FIELD_SYNC_DATA_DIR"]),
                               (["export"], ["FIELD_SYNC_SERVER", "FIELD_SYNC_ADMIN_TOKEN"]),
                               (["demo"], ["FIELD_SYNC_SERVER", "FIELD_SYNC_ADMIN_TOKEN"])):
        result = field_sync(*command, "--help")
        assert result.returncode == 0, result.stderr
        for variable in variables:
            assert f"env var: {variable}" in " ".join(result.stdout.split()), (command, variable)
        assert "default: http://127.0.0.1:8470" in result.stdout or command[0] != "admin"


def test_shell_completion_is_clicks_own() -> None:
    script = field_sync(env={"_FIELD_SYNC_COMPLETE": "bash_source"})
    assert script.returncode == 0
    assert "_field_sync_completion" in script.stdout
    words = field_sync(env={"_FIELD_SYNC_COMPLETE": "bash_complete", "COMP_WORDS":
                            "field-sync adm", "COMP_CWORD": "1"})
    assert "plain,admin" in words.stdout.split()
