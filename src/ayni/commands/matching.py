"""Operator commands for the matching engine: ``ayni simulate`` and ``ayni matching …``.

Everything here runs on simulated communities built from the real Peru data (no database): it is
for demos, capacity planning and benchmarks. The services layer runs the same engine on real data.
``interactions`` → ``train-ranker`` → ``evaluate`` are the DVC pipeline's ranker stages.
"""

from __future__ import annotations

import csv
import json
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
Interactions = Annotated[Path, typer.Option(help="Interaction log CSV (`ayni matching interactions`).")]
MODEL_FILE = "acceptance_model.json"  # AcceptanceModel.save: JSON tree arrays, no pickle
META_FILE = "ranker.json"


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


@app.command()
def interactions(
    provincia: Provincia = "LIMA",
    departamento: Departamento = "LIMA",
    producers: Annotated[int, typer.Option(min=1)] = 1200,
    partners: Annotated[int, typer.Option(min=1)] = 60,
    weeks: Annotated[int, typer.Option(min=2)] = 6,
    seed: Seed = 0,
    start: Annotated[str, typer.Option(help="First simulated Monday (YYYY-MM-DD); fixed so runs repeat.")]
    = "2026-01-05",
    out: Annotated[Path, typer.Option(help="Where to write the log (CSV).")] = Path("interactions.csv"),
) -> None:
    """Simulate WEEKS of offers and outcomes in a community and write the interaction log (one row per candidate)."""
    from ayni.matching.behaviour import simulate_history
    from ayni.matching.interactions import interactions_frame

    districts = load_districts(get_settings().data_dir, provincia=provincia, departamento=departamento)
    community = build_community(districts, n_producers=producers, n_partners=partners,
                                start=date.fromisoformat(start), random_state=seed)
    frame = interactions_frame(simulate_history(community, weeks=weeks, random_state=seed))
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out, index=False)
    offered = frame[frame["offered"]]
    typer.echo(f"{frame['listing_id'].nunique():,} listings, {len(frame):,} candidate rows, {len(offered):,} offers "
               f"({offered['collected'].mean():.1%} accepted and collected) over {weeks} weeks → {out}")


@app.command("train-ranker")
def train_ranker(
    interactions: Interactions,
    out: Annotated[Path, typer.Option(help="Model directory to write.")],
    seed: Annotated[int | None, typer.Option(help="Random seed (default: AYNI_RANKER__SEED).")] = None,
    test_weeks: Annotated[int | None, typer.Option(
        min=1, help="Last weeks held out for `evaluate` and the gate (default: AYNI_RANKER__TEST_WEEKS).")] = None,
) -> None:
    """Fit the acceptance model on all but the last TEST_WEEKS weeks; JSON model + drift reference."""
    import pandas as pd

    from ayni.errors import InvalidInput
    from ayni.matching.evaluation import first_test_week, training_set
    from ayni.matching.interactions import events_from_frame
    from ayni.matching.ranker import FEATURES, AcceptanceModel
    from ayni.mlops.drift import build_reference

    configured = get_settings().ranker
    seed = configured.seed if seed is None else seed
    test_weeks = configured.test_weeks if test_weeks is None else test_weeks
    weeks = events_from_frame(pd.read_csv(interactions))
    try:
        first_test = first_test_week(len(weeks), test_weeks=test_weeks)
    except InvalidInput as exc:
        raise typer.BadParameter(exc.message) from exc
    X, y, _ = training_set(weeks[:first_test])
    model = AcceptanceModel(random_state=seed).fit(X, y)
    out.mkdir(parents=True, exist_ok=True)
    model.save(out / MODEL_FILE)
    build_reference(tabular=pd.DataFrame(X, columns=list(FEATURES))[["distance_km", "log_kg", "price_cents_per_kg"]],
                    random_state=seed).save(out)
    meta = {"model_file": MODEL_FILE, "features": list(FEATURES), "weeks": len(weeks), "test_weeks": test_weeks,
            "n_train": len(y), "positive_rate": float(y.mean()), "params": model.get_params()}
    (out / META_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    typer.echo(f"ranker: {len(y):,} offers from {first_test} weeks ({y.mean():.1%} positive) → {out}")


@app.command("evaluate")
def evaluate_ranker(
    model_dir: Annotated[Path, typer.Option(help="Directory written by `train-ranker`.")],
    interactions: Interactions,
    out: Annotated[Path, typer.Option(help="Write the metrics JSON here.")],
) -> None:
    """Score the ranker on the held-out last weeks of the log (ROC AUC, AP, log loss, Brier) vs the cold-start rule."""
    import pandas as pd

    from ayni.matching.evaluation import first_test_week, holdout_metrics
    from ayni.matching.interactions import events_from_frame
    from ayni.matching.ranker import AcceptanceModel

    meta = json.loads((model_dir / META_FILE).read_text(encoding="utf-8"))
    model = AcceptanceModel.load(model_dir / MODEL_FILE)
    weeks = events_from_frame(pd.read_csv(interactions))
    # the weeks the model was trained without (recorded by train-ranker), so never a week it has seen
    metrics = holdout_metrics(model, weeks, first_test_week=first_test_week(len(weeks),
                                                                            test_weeks=int(meta["test_weeks"])))
    metrics = {**metrics, "roc_auc": metrics["model"]["roc_auc"], "n_train": meta["n_train"]}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    m, r = metrics["model"], metrics["rule"]
    typer.echo(f"ranker on {metrics['n_test']} held-out offers: ROC AUC {m['roc_auc']:.3f} (rule {r['roc_auc']:.3f}), "
               f"Brier {m['brier']:.3f} (rule {r['brier']:.3f}) → {out}")
