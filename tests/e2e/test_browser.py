"""End-to-end journeys in a real browser (Debian's Chromium through Playwright) against a live server.

Every page visited is checked with axe-core (no serious or critical violation) and photographed into
``test-artifacts/e2e/``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from ayni.domain.lifecycle import Role
from ayni.storage.tables import Producer, User

from .conftest import (
    PASSWORD,
    VIEWPORTS,
    AxeLog,
    FixedClassifier,
    LiveServer,
    new_email,
    photo_bytes,
    seed_open_listing,
    seed_user,
)

pytestmark = pytest.mark.e2e


class Journey:
    """A browser page plus the habits of these tests: screenshot and axe-check each step."""

    def __init__(self, page: Any, live: LiveServer, axe: AxeLog, artifacts: Path, prefix: str, *, js: bool = True) -> None:
        self.page, self.live, self.axe, self.artifacts, self.prefix = page, live, axe, artifacts, prefix
        self.step, self.js = 0, js

    def go(self, path: str) -> Any:
        return self.page.goto(self.live.url + path)

    def check(self, name: str) -> None:
        self.step += 1
        label = f"{self.prefix}-{self.step:02d}-{name}"
        self.page.screenshot(path=str(self.artifacts / f"{label}.png"), full_page=True)
        if not self.js:  # axe runs as a script in the page; the same pages are checked with scripts on
            return
        bad = self.axe.check(self.page, label)
        assert not bad, f"axe found serious/critical problems on {label}: {bad}"


def _context(browser: Any, viewport: str, **kw: Any) -> Any:
    ctx = browser.new_context(viewport=VIEWPORTS[viewport], bypass_csp=True, locale="es-PE", **kw)
    ctx.set_default_timeout(15_000)
    return ctx


@pytest.fixture
def contexts(browser: Any) -> Iterator[list[Any]]:
    opened: list[Any] = []
    yield opened
    for ctx in opened:
        ctx.close()


def _login(j: Journey, email: str) -> None:
    j.go("/login")
    j.page.get_by_label("Correo electrónico").fill(email)
    j.page.get_by_label("Contraseña").fill(PASSWORD)
    j.page.get_by_role("button", name="Ingresar").click()


def _sign_up_producer(j: Journey, email: str, *, typeahead: bool = False) -> None:
    page = j.page
    j.go("/signup/producer")
    j.check("signup")
    if typeahead:  # with scripts: results arrive while typing, and the phone's location fills the form
        page.get_by_label("Busca tu distrito por nombre").press_sequentially("victoria", delay=30)
        page.wait_for_selector("#ubigeo option[value='140106']", state="attached")
        page.get_by_label("Distrito", exact=True).select_option("140106")
        page.get_by_label("Usar la ubicación de mi celular").check()
        page.wait_for_function("document.querySelector('[data-geo-lat]').value !== ''")
    else:  # the plain form: search, reload, choose
        page.get_by_label("Busca tu distrito por nombre").fill("chiclayo")
        page.get_by_role("button", name="Buscar").click()
        page.get_by_label("Distrito", exact=True).select_option("140101")
    page.get_by_label("¿Qué eres?").select_option("bodega")
    page.get_by_label("Tu nombre").fill("Rosa Quispe")
    page.get_by_label("Correo electrónico").fill(email)
    page.get_by_label("Celular (opcional)").fill("+51 987 654 321")
    page.get_by_label("Contraseña").fill(PASSWORD)
    page.get_by_role("button", name="Crear cuenta").click()
    page.wait_for_url("**/producer")


@pytest.mark.parametrize("viewport", ["phone", "desktop"])
def test_producer_and_partner_complete_a_collection_and_the_producer_sees_the_income(
    browser: Any, contexts: list[Any], live_server: LiveServer, axe: AxeLog, artifacts: Path, viewport: str
) -> None:
    # phone: no model, so the producer is asked to choose; desktop: a confident but wrong model, corrected.
    live_server.set_classifier(None if viewport == "phone" else FixedClassifier("glass"))
    partner_name = f"Recicla {uuid.uuid4().hex[:5]}"
    partner_email = live_server.seed_partner(name=partner_name, price_cents=95)
    producer_email = new_email("producer")

    geo = {"geolocation": {"latitude": -6.7702, "longitude": -79.8405}, "permissions": ["geolocation"]}
    contexts.append(_context(browser, viewport, **(geo if viewport == "desktop" else {})))
    j = Journey(contexts[-1].new_page(), live_server, axe, artifacts, f"{viewport}-producer")
    page = j.page
    _sign_up_producer(j, producer_email, typeahead=viewport == "desktop")
    if viewport == "desktop":
        with live_server.session_factory() as s:
            where = s.execute(
                select(Producer.ubigeo, Producer.latitude).join(User).where(User.email == producer_email)
            ).one()
        assert where == ("140106", pytest.approx(-6.7702))  # the district chosen while typing, the device's point
    j.check("home")

    page.locator("#photo").set_input_files(
        files=[{"name": "bolsa.jpg", "mimeType": "image/jpeg", "buffer": photo_bytes()}]
    )
    page.wait_for_selector("#photo[data-downscaled='1280x960']")  # downscaled in the browser before upload
    page.get_by_role("button", name="Reconocer el material").click()
    page.wait_for_url(re.compile(r".*/producer/new\?draft=[0-9a-f]{32}$"))
    if viewport == "phone":
        assert page.locator("[data-unsure]").is_visible()
    else:
        assert page.locator("[data-prediction='glass']").is_visible()
        assert page.get_by_label("Vidrio").is_checked()
    j.check("classified")
    page.get_by_label("Plástico", exact=True).check()  # choose (phone) or correct the model (desktop)
    page.get_by_label("Kilos aproximados").fill("12.5")
    page.get_by_role("button", name="Publicar").click()
    page.wait_for_url(re.compile(r".*/producer/listings/\d+$"))
    listing_url = page.url
    offer = page.locator("li[data-partner]", has_text=partner_name)
    assert "S/ 11.88" in offer.inner_text()  # 12.5 kg × S/ 0.95
    j.check("listing")
    page.get_by_role("button", name=f"Pedir recojo a {partner_name}").click()
    page.wait_for_url(re.compile(r".*/producer/listings/\d+"))
    assert "Esperando respuesta" in page.locator("#matches").inner_text()
    j.check("pickup-requested")

    contexts.append(_context(browser, viewport))
    p = Journey(contexts[-1].new_page(), live_server, axe, artifacts, f"{viewport}-partner")
    _login(p, partner_email)
    p.page.wait_for_url("**/partner")
    request = p.page.locator("li[data-request]").last
    assert "Plástico" in request.inner_text()
    assert "987 654 321" not in p.page.content()  # no contact data before accepting
    p.check("opportunities")
    request.get_by_role("button", name=re.compile("^Aceptar la solicitud")).click()
    p.page.wait_for_url(re.compile(r".*/partner/route\?day=.+"))
    stop = p.page.locator("li[data-stop]").last
    assert "987 654 321" in stop.inner_text()  # contact shown once accepted
    assert stop.locator("a[href^='geo:']").count() == 1
    assert p.page.locator("figure.map svg circle").count() >= 2
    p.check("route")
    stop.get_by_label("Kilos pesados").fill("12")
    stop.get_by_label("Pagado (S/)").fill("11.40")
    stop.get_by_role("button", name=re.compile("^Confirmar recojo: parada")).click()
    p.page.wait_for_selector("p.ok")
    p.check("collected")

    j.go("/producer")
    assert page.locator("[data-total-income]").inner_text() == "S/ 11.40"
    assert page.locator("figure.chart svg rect").count() >= 1
    if (live_server.settings.data_dir / "peru" / "emission_factors_warm_v15.csv").is_file():
        co2e = page.locator("dl.stats div", has_text="CO2e").locator("dd").inner_text()
        assert co2e.endswith(" kg") and co2e != "0 kg"  # WARM: plastic recycled instead of landfilled
    j.check("income")
    page.goto(listing_url)
    assert "Recogido y pagado" in page.locator("#matches").inner_text()
    if viewport == "desktop":
        assert "Vidrio" in page.locator("dl.facts").inner_text()  # what the model said stays on record
    j.check("listing-collected")


def test_language_switch_changes_every_text_and_back(
    browser: Any, contexts: list[Any], live_server: LiveServer, axe: AxeLog, artifacts: Path
) -> None:
    contexts.append(_context(browser, "phone"))
    j = Journey(contexts[-1].new_page(), live_server, axe, artifacts, "lang")
    j.go("/login")
    assert j.page.locator("html").get_attribute("lang") == "es"
    assert j.page.locator("h1").inner_text() == "Ingresar"
    j.page.get_by_role("link", name="English").click()
    j.page.wait_for_url("**/login")
    assert j.page.locator("html").get_attribute("lang") == "en"
    assert j.page.locator("h1").inner_text() == "Log in"
    j.check("login-en")
    j.go("/signup/partner")
    assert j.page.get_by_label("Service radius (km)").is_visible()
    j.check("signup-partner-en")
    j.page.get_by_role("link", name="Español").click()
    assert j.page.locator("h1").inner_text() == "Registro de socio reciclador"


def test_forms_work_with_javascript_disabled(
    browser: Any, contexts: list[Any], live_server: LiveServer, axe: AxeLog, artifacts: Path
) -> None:
    live_server.set_classifier(FixedClassifier("cardboard"))
    contexts.append(_context(browser, "phone", java_script_enabled=False))
    j = Journey(contexts[-1].new_page(), live_server, axe, artifacts, "nojs", js=False)
    _sign_up_producer(j, new_email("producer"))
    j.page.locator("#photo").set_input_files(
        files=[{"name": "carton.jpg", "mimeType": "image/jpeg", "buffer": photo_bytes((150, 110, 60), (800, 600))}]
    )
    j.page.get_by_role("button", name="Reconocer el material").click()
    j.page.wait_for_url("**/producer/new?draft=*")
    assert j.page.locator("#photo").count() == 0
    assert j.page.get_by_label("Cartón").is_checked()
    assert "Aplánalo" in j.page.locator("[data-advice]").inner_text()
    j.page.get_by_label("Kilos aproximados").fill("4")
    j.page.get_by_role("button", name="Publicar").click()
    j.page.wait_for_url(re.compile(r".*/producer/listings/\d+$"))
    assert j.page.locator("img.photo").count() == 1
    j.check("listing")


def test_error_pages_are_pages_a_person_understands(
    browser: Any, contexts: list[Any], live_server: LiveServer, axe: AxeLog, artifacts: Path
) -> None:
    contexts.append(_context(browser, "phone"))
    j = Journey(contexts[-1].new_page(), live_server, axe, artifacts, "errors")
    response = j.go("/no-existe")
    assert response.status == 404
    assert j.page.locator("h1").inner_text() == "No encontramos esta página"
    j.check("404")

    j.go("/login")
    j.page.evaluate("document.querySelector('input[name=csrf_token]').value = 'x'.repeat(43)")
    j.page.get_by_label("Correo electrónico").fill("nadie@example.pe")
    j.page.get_by_label("Contraseña").fill(PASSWORD)
    j.page.get_by_role("button", name="Ingresar").click()
    assert j.page.locator("h1").inner_text() == "El formulario venció"
    j.check("csrf")

    _login(j, new_email("nobody"))
    assert "correo o la contraseña" in j.page.locator("[role=alert]").inner_text()
    j.check("bad-login")

    analyst = seed_user(live_server.session_factory, Role.ANALYST)
    _login(j, analyst)
    j.page.wait_for_url("**/analyst")
    response = j.go("/admin")
    assert response.status == 403
    assert j.page.locator("h1").inner_text() == "No tienes permiso para esto"
    j.check("403")
    response = j.go("/producer/listings/999999")
    assert response.status == 404


def test_admin_disables_a_user_and_analyst_exports_csv_using_only_the_keyboard(
    browser: Any, contexts: list[Any], live_server: LiveServer, axe: AxeLog, artifacts: Path
) -> None:
    admin = seed_user(live_server.session_factory, Role.ADMIN)
    live_server.seed_partner(name="Acopio Lote")
    seed_open_listing(live_server.session_factory)
    victim = seed_user(live_server.session_factory, Role.ANALYST)
    contexts.append(_context(browser, "desktop"))
    j = Journey(contexts[-1].new_page(), live_server, axe, artifacts, "staff")
    j.go("/login")
    for _ in range(20):  # keyboard only: Tab to the e-mail field, type, Tab, type, Enter
        j.page.keyboard.press("Tab")
        if j.page.evaluate("document.activeElement.id") == "email":
            break
    j.page.keyboard.type(admin)
    j.page.keyboard.press("Tab")
    j.page.keyboard.type(PASSWORD)
    with j.page.expect_navigation():
        j.page.keyboard.press("Enter")
    assert j.page.url.endswith("/admin")
    assert "Funciona" in j.page.locator("dl.facts").inner_text()
    j.check("admin")
    row = j.page.locator("tr", has_text=victim)
    row.get_by_role("button", name=f"Desactivar a {victim}").focus()
    with j.page.expect_navigation():
        j.page.keyboard.press("Enter")
    assert "Desactivado" in j.page.locator("tr", has_text=victim).inner_text()

    j.page.get_by_label("Zona (UBIGEO)").fill("1401")
    j.page.get_by_role("button", name="Calcular asignación").click()
    j.page.wait_for_url("**/admin/allocation")
    assert j.page.locator("h1").inner_text() == "Asignación de la zona 1401"
    optimal = j.page.locator("tr", has=j.page.get_by_role("rowheader", name="Óptimo (con capacidad)"))
    assert int(optimal.locator("td").first.inner_text()) >= 1  # the open PET listing is assigned
    j.check("allocation")

    j.go("/analyst")
    j.check("analyst")
    csv = j.page.request.get(live_server.url + "/analyst/export.csv?by=material")
    assert csv.status == 200
    assert csv.text().splitlines()[0] == "material,kg,soles,collections,co2e_avoided_kg"


def test_admin_model_page_and_analyst_forecast_chart_on_a_phone(
    browser: Any, contexts: list[Any], live_server: LiveServer, axe: AxeLog, artifacts: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)  # the registry is the local one under the test's var dir
    live_server.set_classifier(None)
    admin = seed_user(live_server.session_factory, Role.ADMIN)
    contexts.append(_context(browser, "phone"))
    j = Journey(contexts[-1].new_page(), live_server, axe, artifacts, "models")
    _login(j, admin)
    j.page.wait_for_url("**/admin")
    j.page.get_by_role("link", name="Modelos: salud, promover, revertir").click()
    j.page.wait_for_url("**/admin/models", timeout=60_000)  # MLflow creates its schema on the first visit
    assert j.page.locator("[data-served]").inner_text().startswith("Sin modelo")
    assert j.page.locator("[data-no-drift]").is_visible()
    j.check("admin-models")

    j.go("/analyst/forecast?q=chiclayo")
    j.check("forecast-form")
    if live_server.settings.data_dir.joinpath("peru", "waste_generation_district_year.csv").is_file():
        j.page.get_by_label("Distrito", exact=True).select_option("140101")
        j.page.get_by_label("Material", exact=True).select_option("PET")
        j.page.get_by_label("Semanas a pronosticar").fill("12")
        j.page.get_by_role("button", name="Ver pronóstico").click()
        j.page.locator("[data-forecast] svg").wait_for(timeout=60_000)
        assert j.page.locator("[data-forecast] tbody tr").count() == 12
        j.check("forecast-chart")
