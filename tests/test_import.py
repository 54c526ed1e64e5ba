"""Reference data in: CSV and JSON-lines import, one-record PUT, text normalization, the CLI.

Through the real app in process (``client``, administrator headers); the command-line import
against a real ``field-sync serve`` process. What was stored is read back the way a device
receives it: an enrolled tablet's pull (its inspector, its assignments' sites and entities,
its standards), and the audit log.
"""

from __future__ import annotations

import csv
import hashlib
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from field_sync.uzbek import normalize_uzbek
from field_sync_cli.local_server import LocalServer
from server import ServerConfig
from tests.conftest import ADMIN, enroll
from tests.doc_blocks import ROOT

CSV = {**ADMIN, "Content-Type": "text/csv"}
JSONL = {**ADMIN, "Content-Type": "application/jsonl"}
SITE_HEADER = "id,entity_tin,name,lat,lon,radius_m,address\n"
TURNED_COMMA, APOSTROPHE = "\u02bb", "\u02bc"  # ʻ (oʻ, gʻ) and ʼ (the tutuq belgisi)

Client = AsyncTestClient  # type: ignore[type-arg]


@pytest.fixture
def server_config(server_config: ServerConfig) -> ServerConfig:
    # As in test_server_admin.py: the app does not make its data directory when an admin token
    # is given (pinned there); make it so these tests exercise the import.
    server_config.data_dir.mkdir(parents=True, exist_ok=True)
    return server_config


async def import_file(client: Client, data: bytes, kind: str = "",
                      fmt: str = "csv") -> dict[str, Any]:
    """POST /v1/admin/import; the report, which must come with a 200."""
    response = await client.post("/v1/admin/import", params={"kind": kind, "format": fmt},
                                 headers=CSV if fmt == "csv" else JSONL, content=data)
    assert response.status_code == 200, response.text
    report: dict[str, Any] = response.json()
    return report


def rejected(report: dict[str, Any]) -> list[tuple[int, str]]:
    """(line, field) of every rejected row."""
    return [(row["line"], row["field"]) for row in report["rejected"]]


async def audit_log(client: Client) -> list[dict[str, Any]]:
    response = await client.get("/v1/supervisor/audit", params={"limit": 1000}, headers=ADMIN)
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()
    return entries


async def pulled(client: Client, inspector_id: str,
                 sites: tuple[str, ...] = ()) -> dict[str, Any]:
    """What a device of ``inspector_id`` pulls, after giving it one assignment per site."""
    device = await enroll(client, inspector_id)
    for site in sites:
        assignment = f"asg-{inspector_id}-{site}"
        response = await client.put(
            f"/v1/admin/reference/assignment/{assignment}", headers=ADMIN,
            json={"id": assignment, "title": site, "inspectors": [inspector_id],
                  "site_id": site})
        assert response.status_code == 200, response.text
    response = await client.get("/v1/pull", headers=device.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


SITES_WITH_BROKEN_ROWS = (
    SITE_HEADER
    + 'site-1,301245678,Chilonzor dehqon bozori,41.275000,69.204000,150,"Toshkent, Chilonzor 7"\n'
    + "site-2,30124567,Eight-digit STIR,41.1,69.1,100,\n"
    + "site-3,301245679,Zero radius,41.1,69.1,0,\n"
    + "site-4,301245680,Off the globe,91.5,69.1,100,\n"
    + "site-1,301245678,Duplicate of line 2,41.0,69.0,100,\n"
    + "site-5,301245681,Radius in words,41.36,69.28,yuz,\n"
    + "site-6,301245682,Yunusobod bozori,41.364000,69.287000,200,\n"
).encode()


async def test_csv_import_reports_each_broken_row_and_stores_the_good_ones(
        client: Client) -> None:
    """Bad STIR, bad radius (zero, words), latitude off the globe and a key already in the
    file: each reported as (line, field, reason), the two good rows stored, the first of the
    duplicated keys kept."""
    report = await import_file(client, SITES_WITH_BROKEN_ROWS, "site")
    assert (report["kind"], report["encoding"]) == ("site", "utf-8")
    assert (report["stored"], report["unchanged"]) == (2, 0)
    assert rejected(report) == [(3, "entity_tin"), (4, "radius_m"), (5, "lat"), (6, "key"),
                                (7, "radius_m")]
    reasons = [row["reason"] for row in report["rejected"]]
    assert "nine digits" in reasons[0] and "30124567" in reasons[0]
    assert "0 is outside 1..100000" in reasons[1]
    assert "91.5 is outside -90..90" in reasons[2]
    assert reasons[3] == "duplicate of line 2"
    assert "expected a decimal" in reasons[4] and "yuz" in reasons[4]
    log = await audit_log(client)
    assert [(e["action"], e["subject"]) for e in log] == [
        ("templates_installed", "built-in"), ("site", "site-1"), ("site", "site-6"),
        ("imported", "site")]
    assert msgspec.json.decode(log[-1]["detail"]) == {
        "format": "csv", "sha256": hashlib.sha256(SITES_WITH_BROKEN_ROWS).hexdigest(),
        "stored": 2, "unchanged": 0, "rejected": 5}

    body = await pulled(client, "insp-sites", ("site-1", "site-6"))
    sites = {site["id"]: site for site in body["sites"]}
    assert sites["site-1"] == {"id": "site-1", "entity_tin": "301245678",
                               "name": "Chilonzor dehqon bozori", "lat": "41.275000",
                               "lon": "69.204000", "radius_m": "150",
                               "address": "Toshkent, Chilonzor 7"}
    assert sites["site-6"]["radius_m"] == "200"


async def test_reimporting_the_same_file_changes_nothing(client: Client) -> None:
    """The second import stores nothing, finds the good rows unchanged, rejects the same rows,
    and adds nothing to the audit log."""
    first = await import_file(client, SITES_WITH_BROKEN_ROWS, "site")
    before = await audit_log(client)
    again = await import_file(client, SITES_WITH_BROKEN_ROWS, "site")
    assert (again["stored"], again["unchanged"]) == (0, first["stored"])
    assert again["rejected"] == first["rejected"]
    assert await audit_log(client) == before


async def test_reimporting_with_one_row_changed_stores_only_that_row(client: Client) -> None:
    """Idempotence is per record: the changed row is stored (and audited), the rest are not."""
    await import_file(client, SITES_WITH_BROKEN_ROWS, "site")
    before = await audit_log(client)
    changed = SITES_WITH_BROKEN_ROWS.replace(b"69.287000,200", b"69.287000,250")
    report = await import_file(client, changed, "site")
    assert (report["stored"], report["unchanged"]) == (1, 1)
    added = (await audit_log(client))[len(before):]
    assert [(e["action"], e["subject"]) for e in added] == [("site", "site-6"),
                                                             ("imported", "site")]


async def test_a_cp1251_csv_of_inspectors_is_read_as_windows_1251(client: Client) -> None:
    """Office software exports Russian in Windows-1251: the file is not UTF-8, the report says
    it was read as cp1251, and the names come back right."""
    text = ("id,full_name,region\n"
            "insp-ru-1,Иванов Сергей Петрович,Ташкент\n"
            "insp-ru-2,Семёнова Наталья Юрьевна,Самарканд\n")
    report = await import_file(client, text.encode("cp1251"), "inspector")
    assert "cp1251" in report["encoding"]
    assert (report["stored"], report["rejected"]) == (2, [])
    assert (await pulled(client, "insp-ru-1"))["inspector"] == {
        "id": "insp-ru-1", "full_name": "Иванов Сергей Петрович", "region": "Ташкент"}
    assert (await pulled(client, "insp-ru-2"))["inspector"]["full_name"] \
        == "Семёнова Наталья Юрьевна"


async def test_a_utf8_csv_with_a_byte_order_mark(client: Client) -> None:
    """Excel's "CSV UTF-8" starts with a BOM: the first column is still ``id``."""
    text = "id,full_name,region\ninsp-bom,Xolmatova Feruza,Namangan\n"
    report = await import_file(client, b"\xef\xbb\xbf" + text.encode(), "inspector")
    assert (report["encoding"], report["stored"], report["rejected"]) == ("utf-8", 1, [])
    assert (await pulled(client, "insp-bom"))["inspector"]["full_name"] == "Xolmatova Feruza"


async def test_uzbek_latin_apostrophes_are_stored_as_the_proper_letters(client: Client) -> None:
    """oʻ and gʻ typed with ', ‘, ’ or ` are stored with U+02BB; the tutuq belgisi between
    letters (Maʼruf, sunʼiy) with U+02BC. Inspector, site and entity alike."""
    inspectors = ("id,full_name,region\n"
                  "insp-uz-lat,G'ulomov O‘tkir Ma’rufjon o`g'li,Farg’ona\n")
    report = await import_file(client, inspectors.encode(), "inspector")
    assert (report["stored"], report["rejected"]) == (1, [])
    entities = "tin,name,address\n301245700,Qo`qon sun'iy tola zavodi,To‘ytepa ko'chasi 3\n"
    assert (await import_file(client, entities.encode(), "entity"))["stored"] == 1
    sites = SITE_HEADER + "site-uz,301245700,O'rta g‘alla ombori,40.52,70.94,100,\n"
    assert (await import_file(client, sites.encode(), "site"))["stored"] == 1

    body = await pulled(client, "insp-uz-lat", ("site-uz",))
    tc, ap = TURNED_COMMA, APOSTROPHE
    assert body["inspector"]["full_name"] == f"G{tc}ulomov O{tc}tkir Ma{ap}rufjon o{tc}g{tc}li"
    assert body["inspector"]["region"] == f"Farg{tc}ona"
    assert body["sites"][0]["name"] == f"O{tc}rta g{tc}alla ombori"
    assert body["entities"] == [{"tin": "301245700", "name": f"Qo{tc}qon sun{ap}iy tola zavodi",
                                 "address": f"To{tc}ytepa ko{tc}chasi 3"}]


async def test_the_same_name_typed_two_ways_is_one_record(client: Client) -> None:
    """"Gʻuzor" typed with ' and with ‘ is the same name: the second import finds it
    unchanged."""
    first = await import_file(client, b"id,full_name\ninsp-guzor,Ergashev G'uzorlik\n",
                              "inspector")
    again = await import_file(client, "id,full_name\ninsp-guzor,Ergashev G‘uzorlik\n".encode(),
                              "inspector")
    assert (first["stored"], again["stored"], again["unchanged"]) == (1, 0, 1)


async def test_uzbek_cyrillic_is_left_as_it_is(client: Client) -> None:
    """ў, қ, ғ, ҳ and the ъ of Маъруф are letters already: nothing to normalize."""
    name, region = "Ғайратов Ўткир Маъруфович Қаҳҳоров", "Фарғона вилояти, Қўқон"
    report = await import_file(client, f"id,full_name,region\ninsp-uz-cyr,{name},\"{region}\"\n"
                               .encode(), "inspector")
    assert (report["encoding"], report["stored"]) == ("utf-8", 1)
    inspector = (await pulled(client, "insp-uz-cyr"))["inspector"]
    assert (inspector["full_name"], inspector["region"]) == (name, region)


JSON_LINES = b"""\
{"kind": "inspector", "id": "insp-j1", "full_name": "Karimova Dilnoza", "attested_until": "2027-01-31"}
{"kind": "entity", "tin": "301245690", "name": "Samarqand non MChJ"}
this is not JSON
{"kind": "site", "id": "site-j1", "entity_tin": "301245690", "name": "Registon", "lat": "39.654", "lon": "66.975", "radius_m": "120"}
[1, 2, 3]
{"kind": "instrument", "id": "std-j1", "type": "weights F1", "serial": "F1-7", "verified_until": "2026-12-31", "inspector_id": "insp-j1"}

{"kind": "assignment", "id": "asg-j1", "title": "Registon", "inspectors": ["insp-j1"], "site_id": "site-j1"}
"just a string"
{"kind": "gadget", "id": "x"}
{"kind": "site", "id": "site-j2", "entity_tin": "301245690", "name": "Bad", "lat": "39.6", "lon": "200", "radius_m": "120"}
"""  # noqa: E501


async def test_json_lines_name_their_own_kind(client: Client) -> None:
    """Each line is a record of its own "kind"; a line that is not JSON, not an object, or
    of an unknown kind is reported by its line number (blank lines count, and are skipped);
    the rest is stored and reaches the inspector's device."""
    report = await import_file(client, JSON_LINES, fmt="jsonl")
    assert report["stored"] == 5
    assert rejected(report) == [(3, "line"), (5, "line"), (9, "line"), (10, "kind"),
                                (11, "lon")]
    reasons = [row["reason"] for row in report["rejected"]]
    assert reasons[0].startswith("not JSON")
    assert reasons[1] == reasons[2] == "a line must be a JSON object"
    assert "gadget" in reasons[3]

    body = await pulled(client, "insp-j1")
    assert body["inspector"]["attested_until"] == "2027-01-31"
    assert [a["id"] for a in body["assignments"]] == ["asg-j1"]
    assert [s["id"] for s in body["sites"]] == ["site-j1"]
    assert body["entities"] == [{"tin": "301245690", "name": "Samarqand non MChJ"}]
    assert "std-j1" in {i["id"] for i in body["instruments"]}


async def test_json_lines_default_to_the_query_kind(client: Client) -> None:
    """Lines without "kind" take the one in the query."""
    lines = b'{"tin": "301245691", "name": "A"}\n{"tin": "301245692", "name": "B"}\n'
    report = await import_file(client, lines, "entity", fmt="jsonl")
    assert (report["stored"], report["rejected"]) == (2, [])


async def test_csv_assignment_teams_are_semicolon_lists(client: Client) -> None:
    """An assignment's team in one CSV cell, "a;b"; a member the registry does not know is
    reported on the row's line."""
    await import_file(client, b"id,full_name\ninsp-t1,T One\ninsp-t2,T Two\n", "inspector")
    report = await import_file(client, b"id,title,inspectors\n"
                                       b"asg-t,Team,insp-t1; insp-t2\n"
                                       b"asg-u,Unknown,insp-t1;insp-nobody\n", "assignment")
    assert report["stored"] == 1
    assert rejected(report) == [(3, "inspectors")]
    assert "insp-nobody" in report["rejected"][0]["reason"]
    body = await pulled(client, "insp-t2")
    assert body["assignments"] == [{"id": "asg-t", "title": "Team",
                                    "inspectors": ["insp-t1", "insp-t2"]}]


async def test_put_reference_with_an_id_that_differs_from_the_url(client: Client) -> None:
    """PUT /v1/admin/reference/site/site-a with a body for site-b: 400 id_mismatch, nothing
    stored."""
    before = await audit_log(client)
    response = await client.put("/v1/admin/reference/site/site-a", headers=ADMIN, json={
        "id": "site-b", "entity_tin": "301245678", "name": "B", "lat": "41", "lon": "69",
        "radius_m": "100"})
    assert response.status_code == 400
    assert response.json()["code"] == "id_mismatch"
    assert await audit_log(client) == before


async def test_put_reference_names_the_broken_field(client: Client) -> None:
    """A record that does not check: 400 with the field."""
    response = await client.put("/v1/admin/reference/site/site-x", headers=ADMIN, json={
        "id": "site-x", "entity_tin": "3012", "name": "X", "lat": "41", "lon": "69",
        "radius_m": "100"})
    assert response.status_code == 400
    assert response.json()["field"] == "entity_tin"


async def test_put_reference_stores_once_then_reports_unchanged(client: Client) -> None:
    """The same record twice: changed, then not."""
    record = {"id": "std-p", "type": "manometer", "serial": "M-1",
              "verified_until": "2026-09-30"}
    answers = [await client.put("/v1/admin/reference/instrument/std-p", headers=ADMIN,
                                json=record) for _ in range(2)]
    assert [answer.json()["changed"] for answer in answers] == [True, False]


async def test_an_unknown_kind_is_a_bad_request(client: Client) -> None:
    """PUT of an unknown kind, and a CSV import of one (or of none): 400. An unknown format
    too."""
    response = await client.put("/v1/admin/reference/gadget/x", headers=ADMIN,
                                json={"id": "x"})
    assert (response.status_code, response.json()["code"]) == (400, "invalid_parameter")
    assert [error["key"] for error in response.json()["errors"]] == ["kind"]
    for kind in ("gadget", ""):
        response = await client.post("/v1/admin/import", params={"kind": kind, "format": "csv"},
                                     headers=CSV, content=b"id\nx\n")
        assert response.status_code == 400, kind
    response = await client.post("/v1/admin/import", params={"kind": "site", "format": "xml"},
                                 headers=CSV, content=b"<site/>")
    assert (response.status_code, response.json()["code"]) == (400, "invalid_parameter")
    assert [error["key"] for error in response.json()["errors"]] == ["format"]


async def test_import_is_for_the_administrator_only(client: Client) -> None:
    """No token, no import."""
    response = await client.post("/v1/admin/import", params={"kind": "site", "format": "csv"},
                                 headers={"Content-Type": "text/csv"},
                                 content=SITES_WITH_BROKEN_ROWS)
    assert response.status_code == 401


# --- bugs ---------------------------------------------------------------------------------


async def test_a_missing_column_is_reported_by_its_field_name(client: Client) -> None:
    """A missing column (or an unknown one) is reported under its field name."""
    report = await import_file(client, b"id,entity_tin,lat,lon,radius_m\n"
                                       b"site-n,301245678,41,69,100\n", "site")
    assert rejected(report) == [(2, "name")]
    report = await import_file(client, SITE_HEADER.replace("\n", ",colour\n").encode()
                               + b"site-c,301245678,C,41,69,100,,red\n", "site")
    assert rejected(report) == [(2, "colour")]


async def test_a_file_that_is_neither_utf8_nor_cp1251_is_refused_not_a_server_error(
        client: Client) -> None:
    """A file that is neither UTF-8 nor Windows-1251 is refused with a 400 that says so."""
    data = SITE_HEADER.encode() + b"site-e,301245678,Bad byte \x98,41,69,100,\n"
    response = await client.post("/v1/admin/import", params={"kind": "site", "format": "csv"},
                                 headers=CSV, content=data)
    assert response.status_code == 400, response.text


async def test_an_apostrophe_in_a_key_is_not_rewritten(client: Client) -> None:
    """Ids are stored as given: Uzbek apostrophes are normalized in text, never in keys."""
    response = await client.put("/v1/admin/reference/site/site-o'rta", headers=ADMIN, json={
        "id": "site-o'rta", "entity_tin": "301245678", "name": "O'rta", "lat": "41",
        "lon": "69", "radius_m": "100"})
    assert response.status_code == 200, response.text
    assert response.json()["record"]["id"] == "site-o'rta"


async def test_a_site_with_an_unknown_time_zone_is_refused(client: Client) -> None:
    """A site's time zone must be one the rules can compute dates in: a typo is a 400 naming
    ``time_zone``, not a failure at every later signing."""
    response = await client.put("/v1/admin/reference/site/site-tz", headers=ADMIN, json={
        "id": "site-tz", "entity_tin": "301245678", "name": "TZ", "lat": "41", "lon": "69",
        "radius_m": "100", "time_zone": "Asia/Tashkend"})
    assert response.status_code == 400, response.text
    assert response.json()["field"] == "time_zone"


# --- the command line, against a real server ------------------------------------------------


def field_sync(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "field_sync_cli.main", *arguments],
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.e2e
def test_cli_import_prints_the_rejected_lines_and_exits_1(server: LocalServer,
                                                          tmp_path: Path) -> None:
    """``field-sync admin import sites.csv --kind site``: the report, every rejected line
    with its field and reason, and exit status 1."""
    suffix = secrets.token_hex(4)
    path = tmp_path / "sites.csv"
    path.write_bytes(SITES_WITH_BROKEN_ROWS.replace(b"site-", f"site-{suffix}-".encode()))
    done = field_sync("admin", "import", str(path), "--kind", "site", "--server", server.url,
                      f"--admin-token={server.admin_token}")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "sites.csv: 2 stored, 0 unchanged, 5 rejected (encoding utf-8)" in done.stdout
    assert "line 3: entity_tin: a STIR is nine digits, not '30124567'" in done.stdout
    for line in ("line 4: radius_m:", "line 5: lat:", "line 6: key: duplicate of line 2",
                 "line 7: radius_m:"):
        assert line in done.stdout


@pytest.mark.e2e
def test_cli_import_of_a_clean_file_exits_0_twice(server: LocalServer, tmp_path: Path) -> None:
    """A clean file: exit 0, all stored; again: exit 0, all unchanged."""
    suffix = secrets.token_hex(4)
    path = tmp_path / "sites.csv"
    path.write_text(SITE_HEADER
                    + f"site-{suffix}-a,301245678,Chilonzor,41.275,69.204,150,\n"
                    + f"site-{suffix}-b,301245679,Yunusobod,41.364,69.287,200,\n")
    arguments = ("admin", "import", str(path), "--kind", "site", "--server", server.url,
                 f"--admin-token={server.admin_token}")
    first, again = field_sync(*arguments), field_sync(*arguments)
    assert (first.returncode, again.returncode) == (0, 0), first.stdout + again.stdout
    assert "2 stored, 0 unchanged, 0 rejected" in first.stdout
    assert "0 stored, 2 unchanged, 0 rejected" in again.stdout


@pytest.mark.e2e
def test_cli_import_with_a_wrong_token_exits_1(server: LocalServer, tmp_path: Path) -> None:
    """The registry refuses: the command says so and exits 1."""
    path = tmp_path / "sites.csv"
    path.write_text(SITE_HEADER)
    done = field_sync("admin", "import", str(path), "--kind", "site", "--server", server.url,
                      "--admin-token=not-the-token")
    assert done.returncode == 1
    assert "refused POST /v1/admin/import: 401 not_admin" in done.stderr


# --- the documented example files ----------------------------------------------------------

EXAMPLES = ROOT / "docs" / "examples" / "reference"
EXAMPLE_CSV = (("inspector", "inspectors.csv"), ("instrument", "instruments.csv"),
               ("entity", "entities.csv"), ("site", "sites.csv"),
               ("assignment", "assignments.csv"))
"""The example of each kind, in the order the reference-data page imports them (an assignment
names inspectors already there)."""


def example_rows(name: str) -> list[dict[str, Any]]:
    """An example CSV file's rows as a device receives them: empty cells and defaults left out,
    text in its canonical Uzbek spelling, an assignment's team a list."""
    with (EXAMPLES / name).open(newline="") as file:
        rows = list(csv.DictReader(file))
    received = []
    for row in rows:
        record: dict[str, Any] = {key: value if key in ("id", "tin", "entity_tin", "site_id",
                                                        "inspector_id", "time_zone")
                                  else normalize_uzbek(value)
                                  for key, value in row.items() if value}
        if "inspectors" in record:
            record["inspectors"] = record["inspectors"].split(";")
        if record.pop("suspended", "false") == "true":  # false is the default, left out
            record["suspended"] = True
        received.append(record)
    return received


async def test_the_documented_example_files_import_cleanly_and_reach_the_device(
        client: Client) -> None:
    """docs/examples/reference: each CSV file stored whole through the importer, with no
    rejected row, again unchanged; then a device of the example's inspector receives its
    inspector, its standards, its assignment's site and entity exactly as the files say."""
    for kind, name in EXAMPLE_CSV:
        data = (EXAMPLES / name).read_bytes()
        report = await import_file(client, data, kind)
        assert (report["stored"], report["rejected"]) == (len(example_rows(name)), []), name
        again = await import_file(client, data, kind)
        assert (again["stored"], again["unchanged"]) == (0, report["stored"]), name

    body = await pulled(client, "insp-0101")
    inspector = next(row for row in example_rows("inspectors.csv") if row["id"] == "insp-0101")
    assert body["inspector"] == inspector
    assert [a["id"] for a in body["assignments"]] == ["asg-2026-0412"]
    assert body["assignments"][0]["inspectors"] == ["insp-0101", "insp-0102"]
    sites = {row["id"]: row for row in example_rows("sites.csv")}
    assert body["sites"] == [sites["site-mill-scales"]]
    entities = {row["tin"]: row for row in example_rows("entities.csv")}
    assert body["entities"] == [entities["301245678"]]
    assert "koʻchasi" in body["entities"][0]["address"]
    standards = {row["id"]: row for row in example_rows("instruments.csv")}
    assert {row["id"]: row for row in body["instruments"]} == {
        "std-weights-0101": standards["std-weights-0101"],
        "std-meter-tsh": standards["std-meter-tsh"]}


async def test_the_documented_json_lines_file_imports_cleanly(client: Client) -> None:
    """docs/examples/reference/reference.jsonl: five records of five kinds, each line naming
    its kind, all stored, and the assignment reaches its inspector's device."""
    report = await import_file(client, (EXAMPLES / "reference.jsonl").read_bytes(), fmt="jsonl")
    assert (report["stored"], report["rejected"]) == (5, [])
    body = await pulled(client, "insp-0301")
    assert body["inspector"]["region"] == "Fargʻona"
    assert [a["id"] for a in body["assignments"]] == ["asg-2026-0501"]
    assert [site["id"] for site in body["sites"]] == ["site-silk-gate"]
    assert [entity["name"] for entity in body["entities"]] == ["Margʻilon ipak MChJ"]
    assert [standard["serial"] for standard in body["instruments"]] == ["RF-1203"]
