"""The package as an agency installs it: ``python -m build`` makes a wheel and an sdist, and the
wheel, alone in a fresh virtual environment, serves, answers ``/health`` and runs the demo.

Dependencies come from ``build/wheelhouse`` (filled once from the package index, then reused
offline), so that a run costs the build and the install, not a download.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from field_sync_cli.local_server import free_port

pytestmark = pytest.mark.database_free

ROOT = Path(__file__).resolve().parent.parent
WHEELHOUSE = ROOT / "build" / "wheelhouse"


def run(*command: str | Path, cwd: Path | None = None,
        timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items()
           if name != "PYTHONPATH" and not name.startswith("FIELD_SYNC_")}
    return subprocess.run([str(part) for part in command], capture_output=True, text=True,
                          timeout=timeout, check=False, cwd=cwd, env=env)


def _install(python: Path, wheel: Path) -> None:
    pip = [sys.executable, "-m", "pip", "--python", python, "install", "--quiet",
           "--no-compile", "--no-index", "--find-links", WHEELHOUSE, wheel]
    if run(*pip).returncode != 0:  # the wheelhouse lacks something: fetch it once
        fetched = run(sys.executable, "-m", "pip", "download", "--quiet", "--dest", WHEELHOUSE,
                      wheel)
        assert fetched.returncode == 0, fetched.stderr
        installed = run(*pip)
        assert installed.returncode == 0, installed.stderr


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``bin`` folder of a fresh virtual environment holding only the wheel and its
    dependencies."""
    folder = tmp_path_factory.mktemp("package")
    built = run(sys.executable, "-m", "build", "--outdir", folder / "dist", ROOT)
    assert built.returncode == 0, built.stdout + built.stderr
    assert "deprecat" not in (built.stdout + built.stderr).lower()
    (wheel,) = (folder / "dist").glob("field_sync-*.whl")
    assert list((folder / "dist").glob("field_sync-*.tar.gz"))
    created = run(sys.executable, "-m", "venv", "--without-pip", folder / "venv")
    assert created.returncode == 0, created.stderr
    _install(folder / "venv" / "bin" / "python", wheel)
    return folder / "venv" / "bin"


def test_the_wheel_is_the_whole_package(installed: Path, tmp_path: Path) -> None:
    found = run(installed / "python", "-c", "import server, importlib.metadata as m; "
                "print(server.__file__); print(m.metadata('field-sync')['License-Expression'])",
                cwd=tmp_path)
    assert found.returncode == 0, found.stderr
    module, license_ = found.stdout.split()
    assert Path(module).is_relative_to(installed.parent), module  # not the source tree
    assert license_ == "Apache-2.0"
    version = run(installed / "field-sync", "--version", cwd=tmp_path)
    assert (version.returncode, version.stdout.strip()) == (0, "field-sync, version 0.1.0")


def test_the_installed_registry_serves(installed: Path, tmp_path: Path) -> None:
    port = free_port()
    env = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
    with (tmp_path / "serve.log").open("wb") as log:
        server = subprocess.Popen([installed / "field-sync", "serve", "--port", str(port),
                                   "--data-dir", tmp_path / "registry"], cwd=tmp_path, env=env,
                                  stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and server.poll() is None:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        ready = httpx.get(f"http://127.0.0.1:{port}/ready", timeout=10)
        assert ready.status_code == 200, (tmp_path / "serve.log").read_text()
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_the_installed_demo_passes(installed: Path, tmp_path: Path) -> None:
    demo = run(installed / "field-sync", "demo", "--out", tmp_path / "demo", cwd=tmp_path)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "demo passed" in demo.stdout
