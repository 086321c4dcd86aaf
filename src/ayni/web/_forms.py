"""Reading form fields: every bad value becomes an ``InvalidInput`` naming the field (rendered as a page)."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from starlette.datastructures import FormData, UploadFile

from ayni.errors import InvalidInput


def text(form: FormData, name: str, *, required: bool = True, max_len: int = 200) -> str:
    value = form.get(name)
    value = value.strip() if isinstance(value, str) else ""
    if required and not value:
        raise InvalidInput(f"The field '{name}' is required.", details={"field": name})
    if len(value) > max_len:
        raise InvalidInput(f"The field '{name}' is too long.", details={"field": name})
    return value


def optional_float(form: FormData, name: str) -> float | None:
    value = text(form, name, required=False, max_len=32)
    if not value:
        return None
    try:
        return float(value)
    except ValueError as exc:
        raise InvalidInput(f"'{value}' is not a number.", details={"field": name}) from exc


def decimal(form: FormData, name: str, *, required: bool = True) -> Decimal | None:
    value = text(form, name, required=required, max_len=32).replace(",", ".")
    if not value:
        return None
    try:
        number = Decimal(value)
    except InvalidOperation as exc:
        raise InvalidInput(f"'{value}' is not a number.", details={"field": name}) from exc
    if not number.is_finite():
        raise InvalidInput(f"'{value}' is not a number.", details={"field": name})
    return number


def soles_to_cents(form: FormData, name: str, *, required: bool = True) -> int | None:
    """Soles typed by a person (``2.50`` or ``2,50``) as integer céntimos."""
    value = decimal(form, name, required=required)
    if value is None:
        return None
    if value < 0:
        raise InvalidInput("An amount of money cannot be negative.", details={"field": name})
    return int((value * 100).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def choice(form: FormData, name: str, options: tuple[str, ...] | list[str]) -> str:
    value = text(form, name)
    if value not in options:
        raise InvalidInput(f"'{value}' is not an option for '{name}'.", details={"field": name})
    return value


def integer(value: str | None, *, default: int, low: int, high: int) -> int:
    try:
        number = int(value) if value else default
    except ValueError:
        number = default
    return min(max(number, low), high)


def optional_date(form: FormData, name: str) -> date | None:
    value = text(form, name, required=False, max_len=10)
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput(f"'{value}' is not a date (YYYY-MM-DD).", details={"field": name}) from exc


def upload(form: FormData, name: str) -> UploadFile | None:
    value = form.get(name)
    if isinstance(value, UploadFile) and value.filename:
        return value
    return None
