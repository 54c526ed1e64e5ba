"""Every registry setting is a flag of ``serve``, an environment variable and a line of the
settings reference, all from ``ServerConfig``; the reference is the code's, not a copy."""

from __future__ import annotations

from pathlib import Path

import pytest

from field_sync_cli.settings_page import PAGE, render
from server.config import ServerConfig
from server.settings import SettingError
from tests.command import field_sync

pytestmark = pytest.mark.database_free

OPERATOR_SETTINGS = {  # what the agency's trust depends on, by the flags the issue names
    "--public-url": "FIELD_SYNC_PUBLIC_URL",
    "--webauthn-rp-id": "FIELD_SYNC_WEBAUTHN_RP_ID",
    "--webauthn-origins": "FIELD_SYNC_WEBAUTHN_ORIGINS",
    "--confirmation": "FIELD_SYNC_CONFIRMATION",
    "--max-clock-ahead-ms": "FIELD_SYNC_MAX_CLOCK_AHEAD_MS",
    "--max-body-bytes": "FIELD_SYNC_MAX_BODY_BYTES",
    "--registry-key": "FIELD_SYNC_REGISTRY_KEY",
}


def test_the_settings_reference_is_what_the_code_says() -> None:
    assert PAGE.read_text() == render(), (
        "docs/settings.md is out of date: run `python -m field_sync_cli.settings_page`")


def test_serve_help_shows_every_setting_with_its_variable() -> None:
    result = field_sync("serve", "--help")
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())
    for setting in ServerConfig.settings():
        assert setting.flag in text and f"env var: {setting.env}" in text, setting
        assert setting.help, f"{setting.field} has no attribute docstring"
    for flag, variable in OPERATOR_SETTINGS.items():
        assert flag in text and variable in text
        assert f"| `{flag}` | `{variable}` |" in PAGE.read_text()


def test_a_secret_is_never_shown() -> None:
    config = ServerConfig(admin_token="admin-secret-1234", metrics_token="scrape-secret-1234")
    assert "admin-secret-1234" not in repr(config)
    assert "scrape-secret-1234" not in repr(config)


def test_the_environment_fills_what_no_argument_gave(monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    monkeypatch.setenv("FIELD_SYNC_PUBLIC_URL", "https://registry.example.uz/")
    monkeypatch.setenv("FIELD_SYNC_WEBAUTHN_ORIGINS", "https://a.example.uz, https://b.example.uz")
    monkeypatch.setenv("FIELD_SYNC_MAX_CLOCK_AHEAD_MS", "60000")
    monkeypatch.setenv("FIELD_SYNC_CONFIRMATION", "totp")
    monkeypatch.setenv("FIELD_SYNC_REGISTRY_KEY", str(tmp_path / "key.pem"))
    config = ServerConfig(max_body_bytes=1024, confirmation="biometric")
    assert config.public_url == "https://registry.example.uz"
    assert config.webauthn_origins == ("https://a.example.uz", "https://b.example.uz")
    assert config.max_clock_ahead_ms == 60_000
    assert config.registry_key == tmp_path / "key.pem"
    assert (config.max_body_bytes, config.confirmation) == (1024, "biometric")  # argument wins
    again = ServerConfig(**{name: value for name, value in vars(config).items()
                            if name != "admin_token"})
    assert again.environment() | {"FIELD_SYNC_ADMIN_TOKEN": ""} == \
        config.environment() | {"FIELD_SYNC_ADMIN_TOKEN": ""}


@pytest.mark.parametrize(("variable", "value"), [
    ("FIELD_SYNC_PUBLIC_URL", "registry.example.uz"),
    ("FIELD_SYNC_WEBAUTHN_ORIGINS", "field-sync.local"),
    ("FIELD_SYNC_CONFIRMATION", "password"),
    ("FIELD_SYNC_MAX_BODY_BYTES", "8M"),
    ("FIELD_SYNC_MAX_BODY_BYTES", "0"),
    ("FIELD_SYNC_TRUSTED_PROXIES", "10.0.0.1,proxy.example.uz"),
    ("FIELD_SYNC_TRUSTED_PROXIES", "10.0.0.1/8"),  # host bits past the prefix: a typo
])
def test_a_setting_the_registry_cannot_run_with_is_refused(
        monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingError):
        ServerConfig()


@pytest.mark.parametrize(("logged", "secret"), [
    ("Authorization: Bearer abc.DEF-123_xyz", "abc.DEF-123_xyz"),
    ("uri otpauth://totp/field-sync:i?secret=JBSWY3DPEHPK3PXP&issuer=x", "JBSWY3DPEHPK3PXP"),
    ("-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMG\n-----END PRIVATE KEY-----", "MIGHAgEAMBMG"),
    ("token 0b9e4c2a-1d3f-4e5a-8b6c-7d8e9f0a1b2c.Zm9vYmFyYmF6cXV4cXV1eHh5eg", "Zm9vYmFy"),
    ("code QVQ7-4E2G-KHWB issued", "QVQ7-4E2G-KHWB"),
    ('{"password": "hunter2hunter2"}', "hunter2hunter2"),
    ("[SQL: UPDATE device]\n[parameters: ('s3cr3t-hash',)]", "s3cr3t-hash"),
])
def test_a_log_line_loses_what_looks_like_a_secret(logged: str, secret: str) -> None:
    from server.logs import redact

    assert secret not in redact(logged)
    assert "redacted" in redact(logged)
