"""The verification page a phone shows, in Uzbek (Latin and Cyrillic), Russian or English."""

from __future__ import annotations

import datetime as dt
from html import escape

from field_sync.verify import Verdict

__all__ = ["LANGUAGES", "pick_language", "render_page"]

LANGUAGES = ("uz-Latn", "uz-Cyrl", "ru", "en")

_TEXT: dict[str, dict[str, str]] = {
    "title": {"uz-Latn": "Hujjatni tekshirish", "uz-Cyrl": "Ҳужжатни текшириш",
              "ru": "Проверка документа", "en": "Document check"},
    "genuine": {"uz-Latn": "Haqiqiy: hujjat reestrda roʻyxatdan oʻtgan va oʻzgartirilmagan",
                "uz-Cyrl": "Ҳақиқий: ҳужжат реестрда рўйхатдан ўтган ва ўзгартирилмаган",
                "ru": "Подлинный: документ зарегистрирован в реестре и не изменён",
                "en": "Genuine: registered and unaltered"},
    "altered": {"uz-Latn": "Oʻzgartirilgan: imzo mos kelmaydi",
                "uz-Cyrl": "Ўзгартирилган: имзо мос келмайди",
                "ru": "Изменён: подпись не совпадает",
                "en": "Altered: the signature does not match"},
    "unknown_key": {"uz-Latn": "Nomaʼlum kalit bilan imzolangan",
                    "uz-Cyrl": "Номаълум калит билан имзоланган",
                    "ru": "Подписан неизвестным ключом", "en": "Signed by an unknown key"},
    "revoked": {"uz-Latn": "Kalit bekor qilingan", "uz-Cyrl": "Калит бекор қилинган",
                "ru": "Ключ отозван", "en": "The signing key was revoked"},
    "not_registered": {"uz-Latn": "Reestrda roʻyxatdan oʻtmagan",
                       "uz-Cyrl": "Реестрда рўйхатдан ўтмаган",
                       "ru": "Не зарегистрирован в реестре", "en": "Not registered"},
    "superseded": {"uz-Latn": "Yangi hujjat bilan almashtirilgan",
                   "uz-Cyrl": "Янги ҳужжат билан алмаштирилган",
                   "ru": "Заменён исправленным документом", "en": "Superseded by a correction"},
    "annulled": {"uz-Latn": "Bekor qilingan", "uz-Cyrl": "Бекор қилинган",
                 "ru": "Аннулирован", "en": "Annulled"},
    "malformed": {"uz-Latn": "Bu QR-kod hujjat muhri emas",
                  "uz-Cyrl": "Бу QR-код ҳужжат муҳри эмас",
                  "ru": "Этот QR-код не является печатью документа",
                  "en": "This QR code is not a document seal"},
    "number": {"uz-Latn": "Raqami", "uz-Cyrl": "Рақами", "ru": "Номер", "en": "Number"},
    "registry_number": {"uz-Latn": "Reestr raqami", "uz-Cyrl": "Реестр рақами",
                        "ru": "Номер в реестре", "en": "Registry number"},
    "kind": {"uz-Latn": "Turi", "uz-Cyrl": "Тури", "ru": "Вид", "en": "Kind"},
    "entity": {"uz-Latn": "STIR", "uz-Cyrl": "СТИР", "ru": "ИНН", "en": "Taxpayer id"},
    "result": {"uz-Latn": "Natija", "uz-Cyrl": "Натижа", "ru": "Результат", "en": "Result"},
    "signed_at": {"uz-Latn": "Imzolangan", "uz-Cyrl": "Имзоланган", "ru": "Подписан",
                  "en": "Signed"},
    "inspector": {"uz-Latn": "Inspektor", "uz-Cyrl": "Инспектор", "ru": "Инспектор",
                  "en": "Inspector"},
}


def pick_language(accept_language: str) -> str:
    """The first of our languages the reader's ``Accept-Language`` names (English otherwise).

    ``uz`` alone, or ``uz-UZ``, means Latin script, the official one; ``uz-Cyrl`` asks for
    Cyrillic.
    """
    ranked = []
    for index, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        ranked.append((-quality, index, tag.strip().lower()))
    for _, _, tag in sorted(ranked):
        if tag.startswith("uz"):
            return "uz-Cyrl" if "cyrl" in tag else "uz-Latn"
        if tag.startswith("ru"):
            return "ru"
        if tag.startswith("en"):
            return "en"
    return "en"


def render_page(verdict: Verdict, accept_language: str) -> tuple[str, str]:
    """The HTML page for ``verdict`` and the language it is in."""
    lang = pick_language(accept_language)
    text = {key: value[lang] for key, value in _TEXT.items()}
    ok = verdict.genuine
    rows = ""
    claim = verdict.claim
    if claim is not None:
        signed = dt.datetime.fromtimestamp(claim.signed_at, dt.timezone(dt.timedelta(hours=5)))
        facts = [("number", claim.number), ("registry_number", verdict.registry_number),
                 ("kind", claim.kind), ("entity", claim.entity), ("result", claim.result),
                 ("signed_at", signed.strftime("%Y-%m-%d %H:%M (UTC+05:00)")),
                 ("inspector", verdict.key.inspector_id if verdict.key else "")]
        rows = "".join(f"<tr><th>{escape(text[key])}</th><td>{escape(value)}</td></tr>"
                       for key, value in facts if value)
    colour = "#1b7a3a" if ok else "#a31d1d"
    html = f"""<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(text["title"])}</title>
<style>body{{font-family:system-ui,sans-serif;margin:1.2em;max-width:36em}}
.v{{padding:1em;border-radius:.5em;font-size:1.2em;color:#fff;background:{colour}}}
th{{text-align:left;padding-right:1em;color:#555}}td,th{{padding:.3em 0}}</style></head>
<body><h1>{escape(text["title"])}</h1>
<p class="v" id="verdict" data-verdict="{verdict.verdict}">{escape(text[verdict.verdict])}</p>
<table>{rows}</table></body></html>"""
    return html, lang
