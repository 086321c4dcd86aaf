"""Pages everyone shares: home, log-in, log-out, sign-up (producer and partner), language."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from ayni.domain.lifecycle import PartnerKind, ProducerKind, Role
from ayni.domain.materials import CLASSES, sellable
from ayni.errors import AyniError, InvalidInput, NotAuthenticated, TooManyRequests
from ayni.services import auth, profiles, reference
from ayni.services.app_state import login_throttle, partner_catalog
from ayni.services.profiles import WEEKDAYS, MaterialOffer
from ayni.settings import Settings
from ayni.web import _forms as f
from ayni.web._csrf import checked_form
from ayni.web._locale import LANG_COOKIE, LOCALES
from ayni.web._render import Db, MaybeUser, WebRoute, error_key, locale_of, redirect, render, safe_next

if TYPE_CHECKING:  # annotations only: pages reach storage through the services
    from ayni.storage.tables import User

router = APIRouter(route_class=WebRoute, include_in_schema=False)

HOME = {"producer": "/producer", "partner": "/partner", "admin": "/admin", "analyst": "/analyst"}
OFFER_MATERIALS = tuple(c for c in CLASSES if sellable(c))




def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _sign_in(request: Request, session: Session, response: Response, *, email: str, password: str) -> User:
    settings = _settings(request)
    user, token = auth.login(session, email=email, password=password, kind="web", settings=settings.auth)
    response.set_cookie(
        settings.auth.cookie_name,
        token,
        httponly=True,
        samesite="lax",
        secure=settings.auth.cookie_secure,
        max_age=settings.auth.token_ttl_hours * 3600,
        path="/",
    )
    return user


def _form_error(request: Request, exc: AyniError) -> dict[str, Any]:
    loc = locale_of(request)
    kind, field_key = error_key(exc)
    message = loc.t(field_key) if field_key and loc.has(field_key) else loc.t(kind) if loc.has(kind) else exc.message
    field = exc.details.get("field") if isinstance(exc.details, dict) else None
    return {"message": message, "field": field}


@router.get("/")
def home(request: Request, user: MaybeUser) -> Response:
    if user is not None:
        return redirect(HOME[user.role])
    return render(request, "index.html")


@router.get("/login")
def login_page(request: Request, user: MaybeUser, next: str = "") -> Response:
    return render(request, "login.html", user=user, next=safe_next(next, ""), email="", error=None)


@router.post("/login")
async def login(request: Request, session: Db) -> Response:
    form = await checked_form(request)
    email = f.text(form, "email", required=False, max_len=254)
    target = safe_next(f.text(form, "next", required=False, max_len=300), "")
    response = redirect("/")
    throttle = login_throttle(request.app.state)
    keys = (f"email:{email.lower()}", f"ip:{request.client.host if request.client else '-'}")
    loc = locale_of(request)
    try:
        throttle.check(*keys)
        user = _sign_in(request, session, response, email=email, password=f.text(form, "password", required=False, max_len=256))
    except TooManyRequests:
        error = {"message": loc.t("error.too_many_requests"), "field": "password"}
        return render(request, "login.html", status=429, next=target, email=email, error=error)
    except NotAuthenticated:
        throttle.failed(*keys)
        error = {"message": loc.t("login.failed"), "field": "password"}
        return render(request, "login.html", status=401, next=target, email=email, error=error)
    throttle.succeeded(keys[0])
    response.headers["location"] = target or HOME[user.role]
    return response


@router.post("/logout")
async def logout(request: Request, session: Db) -> Response:
    await checked_form(request)
    settings = _settings(request)
    token = request.cookies.get(settings.auth.cookie_name)
    if token:
        auth.logout(session, token)
    response = redirect("/login")
    response.delete_cookie(settings.auth.cookie_name, path="/")
    return response


@router.get("/lang/{code}")
def switch_language(request: Request, code: str, next: str = "/") -> Response:
    response = redirect(safe_next(next))
    if code in LOCALES:
        response.set_cookie(LANG_COOKIE, code, max_age=365 * 24 * 3600, samesite="lax", httponly=True, path="/")
    return response


def _districts(session: Session, q: str, chosen: str | None = None) -> list[Any]:
    """Districts matching the search, with the one already chosen kept first (a form shown again)."""
    found = []
    if q.strip():
        found = reference.search_districts(session, q=q[:80], departamento=None, provincia=None, limit=25, offset=0).items
    if chosen and all(d.ubigeo != chosen for d in found):
        try:
            found = [reference.get_district(session, chosen), *found]
        except AyniError:
            pass
    return found


def _signup_context(session: Session, role: str, q: str, values: dict[str, Any], error: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "role": role,
        "q": q,
        "districts": _districts(session, q, values.get("ubigeo")),
        "values": values,
        "error": error,
        "producer_kinds": [k.value for k in ProducerKind],
        "partner_kinds": [k.value for k in PartnerKind],
        "weekdays": WEEKDAYS,
        "offer_materials": OFFER_MATERIALS,
    }


@router.get("/signup")
def signup_choice(request: Request, user: MaybeUser) -> Response:
    return render(request, "signup_choice.html", user=user)


@router.get("/signup/{role}")
def signup_page(request: Request, session: Db, role: str, q: str = "") -> Response:
    if role not in ("producer", "partner"):
        raise _not_found()
    return render(request, "signup.html", **_signup_context(session, role, q, {}, None))


def _not_found() -> AyniError:
    from ayni.errors import NotFound

    return NotFound("There is no such page.")


def _location(form: FormData) -> tuple[float | None, float | None]:
    if f.text(form, "location", required=False, max_len=10) != "device":
        return None, None
    lat, lon = f.optional_float(form, "lat"), f.optional_float(form, "lon")
    return (lat, lon) if lat is not None and lon is not None else (None, None)


def _offers(form: FormData) -> list[MaterialOffer]:
    offers = []
    for code in OFFER_MATERIALS:
        if not form.get(f"take_{code}"):
            continue
        price = f.soles_to_cents(form, f"price_{code}")
        offers.append(
            MaterialOffer(
                material=code,
                price_cents_per_kg=price or 0,
                min_kg=f.decimal(form, f"min_{code}", required=False) or Decimal(0),
                weekly_capacity_kg=f.decimal(form, f"cap_{code}") or Decimal(0),
            )
        )
    if not offers:
        raise InvalidInput("Choose at least one material you take.", details={"field": "materials"})
    return offers


def _create_account(request: Request, session: Session, role: str, form: FormData) -> User:
    settings = _settings(request)
    user = auth.register(
        session,
        email=f.text(form, "email", max_len=254),
        password=f.text(form, "password", max_len=256),
        role=Role(role),
        display_name=f.text(form, "display_name", max_len=120),
        phone=f.text(form, "phone", required=False, max_len=32) or None,
        locale=locale_of(request).code,
        settings=settings.auth,
    )
    lat, lon = _location(form)
    name = f.text(form, "org_name", required=False, max_len=120) or user.display_name
    ubigeo = f.text(form, "ubigeo", max_len=6)
    if role == "producer":
        profiles.create_producer(
            session,
            user,
            name=name,
            kind=ProducerKind(f.choice(form, "kind", [k.value for k in ProducerKind])),
            ubigeo=ubigeo,
            lat=lat,
            lon=lon,
            address=f.text(form, "address", required=False) or None,
        )
    else:
        profiles.create_partner(
            session,
            user,
            name=name,
            kind=PartnerKind(f.choice(form, "kind", [k.value for k in PartnerKind])),
            ubigeo=ubigeo,
            lat=lat,
            lon=lon,
            service_radius_km=float(f.decimal(form, "radius_km") or 0),
            pickup_days=[d for d in form.getlist("days") if isinstance(d, str)],
            materials=_offers(form),
        )
        partner_catalog(request.app.state).invalidate()  # the new partner shows up in rankings at once
    return user


@router.post("/signup/{role}")
async def signup(request: Request, session: Db, role: str) -> Response:
    if role not in ("producer", "partner"):
        raise _not_found()
    form = await checked_form(request)
    response = redirect(HOME[role])
    try:
        with session.begin_nested():
            _create_account(request, session, role, form)
            _sign_in(request, session, response, email=f.text(form, "email"), password=f.text(form, "password"))
    except AyniError as exc:
        values: dict[str, Any] = {
            k: v for k, v in form.multi_items() if isinstance(v, str) and k not in ("password", "csrf_token")
        }
        values["days"] = form.getlist("days")
        context = _signup_context(session, role, f.text(form, "q", required=False, max_len=80), values, _form_error(request, exc))
        return render(request, "signup.html", status=422 if exc.code == "invalid_input" else 409, **context)
    return response
