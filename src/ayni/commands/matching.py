"""Operator commands for the matching engine: ``ayni simulate`` and ``ayni matching …``.

Everything here runs on simulated communities built from the real Peru data (no database): it is
for demos, capacity planning and benchmarks. The services layer runs the same engine on real data.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ayni.domain.money import format_soles
from ayni.matching.allocation import capacity_violations, greedy, lp_bound, optimise
from ayni.matching.arcs import build_arcs
from ayni.matching.candidates import candidates_for_listing
from ayni.matching.entities import ListingInput, PartnerOffer
from ayni.matching.index import PartnerIndex
from ayni.matching.scoring import RuleAcceptance, ScoringConfig, rank_candidates
from ayni.matching.simulate import build_community, listings_for_week, load_districts, material_summary
from ayni.settings import get_settings

app = typer.Typer(help="Matching engine: simulated communities, allocation and ranking demos.",
                  no_args_is_help=True)
log = logging.getLogger(__name__)

Provincia = Annotated[str, typer.Option(help="Province (districts.csv `provincia`).")]
Departamento = Annotated[str, typer.Option(help="Department (districts.csv `departamento`).")]
Seed = Annotated[int, typer.Option(help="Random seed (the simulation is reproducible).")]


@app.command()
def simulate(
    provincia: Provincia = "LIMA",
    departamento: Departamento = "LIMA",
    producers: Annotated[int, typer.Option(min=1)] = 5000,
    partners: Annotated[int, typer.Option(min=1)] = 200,
    weeks: Annotated[int, typer.Option(min=1)] = 1,
    seed: Seed = 0,
    out: Annotated[Path | None, typer.Option(help="Write partners.csv and listings.csv here.")] = None,
) -> None:
    """Build a simulated community from real district data and show what it lists."""
    console = Console()
    districts = load_districts(get_settings().data_dir, provincia=provincia, departamento=departamento)
    community = build_community(districts, n_producers=producers, n_partners=partners,
                                start=_monday(), random_state=seed)
    listings: list[ListingInput] = []
    for week in range(weeks):
        listings += listings_for_week(community, week, random_state=seed, first_id=len(listings) + 1)
    console.print(f"[bold]{provincia.title()}[/]: {len(districts)} districts, {len(community.producers):,} "
                  f"producers, {len(community.partners)} partners, {len(listings):,} listings in {weeks} week(s). "
                  "[dim]Producers' behaviour, partners, prices and capacities are simulated "
                  "(demo assumptions); districts, population, generation and composition are MINAM/INEI.[/]")
    table = Table("material", "listings", "kg", title="Listings by material")
    for material, (n, kg) in material_summary(listings).items():
        table.add_row(material, f"{n:,}", f"{kg:,.0f}")
    console.print(table)
    kinds = Table("partner kind", "partners", title="Partners by kind")
    for kind in sorted({p.offer.kind for p in community.partners}):
        kinds.add_row(kind.value, str(sum(p.offer.kind is kind for p in community.partners)))
    console.print(kinds)
    if out is not None:
        _write(out, community.partner_offers, listings)
        console.print(f"Wrote {out / 'partners.csv'} and {out / 'listings.csv'}")


@app.command("allocate-bench")
def allocate_bench(
    provincia: Provincia = "LIMA",
    departamento: Departamento = "LIMA",
    producers: Annotated[int, typer.Option(min=1)] = 12000,
    partners: Annotated[int, typer.Option(min=1)] = 600,
    seed: Seed = 5,
    time_limit: Annotated[float, typer.Option(help="Solver time limit, seconds.")] = 10.0,
    transport_cents_per_km: Annotated[int, typer.Option(help="Transport cost, céntimos per km.")] = 20,
) -> None:
    """Allocate one week of simulated listings: optimiser vs greedy baselines, capacity checked."""
    console = Console()
    districts = load_districts(get_settings().data_dir, provincia=provincia, departamento=departamento)
    community = build_community(districts, n_producers=producers, n_partners=partners, start=_monday(),
                                random_state=seed)
    listings = listings_for_week(community, 0, random_state=seed)
    arcs = build_arcs(listings, community.partner_offers,
                      config=ScoringConfig(transport_cents_per_km=transport_cents_per_km))
    results = [optimise(arcs, time_limit_s=time_limit)] + [greedy(arcs, rule=r) for r in
                                                          ("fcfs", "nearest", "highest_price")]
    table = Table("method", "status", "expected net", "kg placed", "listings", "violations", "seconds",
                  title=f"{len(listings):,} listings, {len(community.partners)} partners, {arcs.n_arcs:,} arcs")
    for r in results:
        table.add_row(r.method, r.status, format_soles(r.total_value_cents), f"{r.kg_placed:,.0f}",
                      f"{r.n_assigned:,}", str(len(capacity_violations(arcs, r.chosen))), f"{r.seconds:.2f}")
    console.print(table)
    console.print(f"LP relaxation bound: {format_soles(int(lp_bound(arcs)))}")


@app.command()
def rank(
    provincia: Provincia = "LIMA",
    departamento: Departamento = "LIMA",
    partners: Annotated[int, typer.Option(min=1)] = 300,
    seed: Seed = 0,
    lang: Annotated[str, typer.Option(help="es or en")] = "es",
) -> None:
    """Top-10 partners for one simulated listing, with explanations (cold-start rule)."""
    console = Console()
    districts = load_districts(get_settings().data_dir, provincia=provincia, departamento=departamento)
    community = build_community(districts, n_producers=200, n_partners=partners, start=_monday(),
                                random_state=seed)
    index = PartnerIndex(community.partner_offers)
    for listing in listings_for_week(community, 0, random_state=seed):
        cands = candidates_for_listing(listing, index)
        if len(cands) >= 3:
            break
    else:
        raise typer.BadParameter("no simulated listing has three candidates; add partners")
    console.print(f"Listing {listing.listing_id}: {listing.kg} kg of {listing.material}, "
                  f"{len(cands)} partners can take it")
    recs = rank_candidates(listing, cands, estimator=RuleAcceptance(), now=listing.created_at)
    table = Table("#", "partner", "km", "expected", "why")
    for r in recs:
        text = r.explanation.text_es if lang == "es" else r.explanation.text_en
        table.add_row(str(r.rank), str(r.partner_id), f"{r.candidate.distance_km:.1f}",
                      format_soles(r.expected_net_cents), text)
    console.print(table)


def _monday() -> date:
    today = date.today()
    return today - timedelta(days=today.weekday())


def _write(out: Path, partners: Sequence[PartnerOffer], listings: Sequence[ListingInput]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with (out / "partners.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["partner_id", "kind", "lat", "lon", "radius_km", "pickup_weekdays", "material",
                    "price_cents_per_kg", "min_kg", "weekly_capacity_kg", "capacity_left_kg"])
        for p in partners:
            for o in p.materials:
                w.writerow([p.partner_id, p.kind.value, f"{p.lat:.6f}", f"{p.lon:.6f}", p.radius_km,
                            "".join(str(d) for d in sorted(p.pickup_weekdays)), o.material,
                            o.price_cents_per_kg, o.min_kg, o.weekly_capacity_kg, o.capacity_left_kg])
    with (out / "listings.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["listing_id", "producer_id", "producer_kind", "material", "kg", "lat", "lon",
                    "available_from", "available_until", "created_at", "photo_confidence"])
        for x in listings:
            w.writerow([x.listing_id, x.producer_id, x.producer_kind, x.material, x.kg, f"{x.lat:.6f}",
                        f"{x.lon:.6f}", x.available_from, x.available_until, x.created_at.isoformat(),
                        x.photo_confidence])
