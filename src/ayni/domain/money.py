"""Money is exact: integer céntimos of PEN; kilograms are ``Decimal`` with gram precision."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from ayni.errors import InvalidInput

KG_QUANTUM = Decimal("0.001")
MAX_LISTING_KG = Decimal("20000")  # 20 t: more than a truck; above it is a typo, not a listing
MAX_PRICE_CENTS_PER_KG = 100_000  # S/ 1,000 per kg


def to_kg(value: Decimal | float | int | str, *, field: str = "kg", allow_zero: bool = False) -> Decimal:
    """A validated mass in kg rounded to the gram; refuses negative, absurd and non-numeric values."""
    try:
        kg = Decimal(str(value)).quantize(KG_QUANTUM, rounding=ROUND_HALF_EVEN)
    except (InvalidOperation, ValueError) as exc:
        raise InvalidInput(f"'{value}' is not a number of kilograms.", details={"field": field}) from exc
    if not kg.is_finite():
        raise InvalidInput("Kilograms must be a finite number.", details={"field": field})
    if kg < 0 or (kg == 0 and not allow_zero):
        raise InvalidInput(f"{field} must be more than 0 kg (got {value}).", details={"field": field})
    if kg > MAX_LISTING_KG:
        raise InvalidInput(
            f"{field} of {value} kg is more than the {MAX_LISTING_KG} kg a single pickup can be.",
            details={"field": field},
        )
    return kg


def validate_price_cents(cents: int, *, field: str = "price_cents_per_kg") -> int:
    if cents < 0 or cents > MAX_PRICE_CENTS_PER_KG:
        raise InvalidInput(
            f"{field} must be between 0 and {MAX_PRICE_CENTS_PER_KG} céntimos (S/ 1,000) per kg.",
            details={"field": field},
        )
    return cents


def value_cents(*, kg: Decimal, cents_per_kg: int) -> int:
    """What ``kg`` are worth at ``cents_per_kg``, rounded half-even to the céntimo."""
    return int((kg * cents_per_kg).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def format_soles(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}S/ {cents // 100:,}.{cents % 100:02d}"
