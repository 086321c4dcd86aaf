"""Message catalogues (``i18n/es.json``, ``i18n/en.json``) and locale-aware formatting.

Spanish is the default. Every piece of text a person reads comes from a catalogue; code only names
keys. Money follows Peru's convention in both languages (``S/ 1,234.50``, as CLDR es-PE writes it);
dates use the catalogue's month names and pattern.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ayni.domain.materials import MATERIALS
from ayni.domain.money import format_soles

LOCALES = ("es", "en")
DEFAULT_LOCALE = "es"
LANG_COOKIE = "ayni_lang"
LIMA = ZoneInfo("America/Lima")
CATALOGUE_DIR = Path(__file__).parent / "i18n"


def load_catalogues(directory: Path = CATALOGUE_DIR) -> dict[str, dict[str, str]]:
    """Every locale's catalogue, read once when the app is mounted."""
    return {code: json.loads((directory / f"{code}.json").read_text(encoding="utf-8")) for code in LOCALES}


@dataclass(frozen=True)
class Locale:
    """One request's language: ``t(key)`` for text, ``money``/``kg``/``day`` for values."""

    code: str
    messages: dict[str, str]
    fallback: dict[str, str]

    def t(self, key: str, **values: Any) -> str:
        text = self.messages.get(key) or self.fallback.get(key) or key
        return text.format(**values) if values else text

    def has(self, key: str) -> bool:
        return key in self.messages

    def money(self, cents: int | None) -> str:
        return format_soles(cents) if cents is not None else "—"

    def number(self, value: Decimal | float | int | None, digits: int = 1) -> str:
        if value is None:
            return "—"
        text = f"{float(value):,.{digits}f}"
        if digits and "." in text:
            text = text.rstrip("0").rstrip(".")
        return text

    def kg(self, value: Decimal | float | int | None) -> str:
        return "—" if value is None else f"{self.number(value, 3)} kg"

    def co2e(self, value: float | None) -> str:
        return "—" if value is None else f"{self.number(value, 1)} kg"

    def month(self, key: str) -> str:
        """``"2026-11"`` as ``"nov 2026"`` in the catalogue's month names."""
        year, _, month = key.partition("-")
        if not month.isdigit():
            return key
        return f"{self.t(f'month.{int(month)}')} {year}"

    def month_short(self, key: str) -> str:
        """``"2026-11"`` as ``"nov"`` (chart labels; the year is in the table beside the chart)."""
        _, _, month = key.partition("-")
        return self.t(f"month.{int(month)}") if month.isdigit() else key

    def km(self, value: float | None) -> str:
        return "—" if value is None else f"{self.number(value, 1)} km"

    def percent(self, value: float | None) -> str:
        return "—" if value is None else self.t("fmt.percent", value=round(value * 100))

    def day(self, value: date | datetime | None) -> str:
        if value is None:
            return "—"
        if isinstance(value, datetime):
            value = value.astimezone(LIMA).date()
        month = self.t(f"month.{value.month}")
        weekday = self.t(f"weekday.{value.weekday()}")
        return self.t("fmt.date", weekday=weekday, day=value.day, month=month, year=value.year)

    def moment(self, value: datetime | None) -> str:
        """A date with the time of day in Lima (``lun 23 nov 2026, 14:05``)."""
        if value is None:
            return "—"
        local = value.astimezone(LIMA)
        return self.t("fmt.moment", day=self.day(local), time=local.strftime("%H:%M"))

    def days(self, codes: str) -> str:
        """``"mon,wed"`` as the catalogue's short day names, comma-separated."""
        return ", ".join(self.t(f"day.{c}") for c in codes.split(",") if c)

    def material(self, code: str | None) -> str:
        if code is None:
            return "—"
        m = MATERIALS.get(code)
        if m is None:
            return code
        return m.name_en if self.code == "en" else m.name_es

    def advice(self, code: str | None) -> str:
        m = MATERIALS.get(code or "")
        if m is None:
            return ""
        return m.advice_en if self.code == "en" else m.advice_es


def pick_locale(cookie_value: str | None) -> str:
    return cookie_value if cookie_value in LOCALES else DEFAULT_LOCALE


def make_locale(catalogues: dict[str, dict[str, str]], code: str) -> Locale:
    return Locale(code=code, messages=catalogues[code], fallback=catalogues[DEFAULT_LOCALE])
