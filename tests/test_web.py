"""The web foundation: templates escape what they print, the layout carries the agency, the
language switcher and the registry's address, static files are the registry's own and cached."""

from __future__ import annotations

import re

import pytest
from litestar.testing import AsyncTestClient

from server.web import environment, static_url

SAMPLE = {
    "lang": "ru", "agency_name": "Агентство <b>", "logo_url": "", "console_url": "",
    "public_url": "https://verify.example.uz", "flashes": [{"kind": "error", "text": "<i>x</i>"}],
    "languages": [{"code": code, "name": code, "href": f"/p?lang={code}", "current": code == "ru"}
                  for code in ("uz-Latn", "uz-Cyrl", "ru", "en")],
}


@pytest.mark.database_free
def test_the_layout_escapes_and_names_the_registry() -> None:
    html = environment().get_template("base.html").render(SAMPLE)
    assert '<html lang="ru">' in html
    assert "Агентство &lt;b&gt;" in html and "<b>" not in html
    assert "&lt;i&gt;x&lt;/i&gt;" in html and 'role="alert"' in html
    assert "https://verify.example.uz" in html
    assert 'href="/p?lang=uz-Cyrl"' in html and 'aria-current="true">ru<' in html
    assert "Перейти к основному содержанию" in html
    assert re.search(r'href="/static/site\.css\?v=[0-9a-f]{12}"', html)


@pytest.mark.database_free
def test_a_missing_name_is_an_error_not_a_blank() -> None:
    with pytest.raises(Exception, match="public_url"):
        environment().get_template("base.html").render(
            {key: value for key, value in SAMPLE.items() if key != "public_url"})


async def test_static_files_are_served_and_cached(client: AsyncTestClient) -> None:  # type: ignore[type-arg]
    response = await client.get(static_url("site.css"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/css")
    assert "max-age=31536000" in response.headers["cache-control"]
    assert "--navy" in response.text
    assert (await client.get("/static/../config.py")).status_code == 404
    assert (await client.get("/brand/logo")).status_code == 404
