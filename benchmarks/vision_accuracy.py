"""Accuracy of the shipped photo classifier on three honest test sets → docs/benchmarks.md.

(a) our near-duplicate-aware 7-class test split; (b) TrashNet's own split files (6 classes);
(c) Kaggle's official TEST split as organic vs not. Writes the section ``vision-accuracy``, the
confusion-matrix and reliability PNGs under docs/img/, and the full JSON under var/vision/.

    python -m benchmarks.vision_accuracy
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from benchmarks._report import write_section

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    from ayni.settings import get_settings
    from ayni.vision.data import default_manifest_path
    from ayni.vision.evaluate import run_evaluate
    from ayni.vision.meta import ASSETS_DIR

    parser = argparse.ArgumentParser()
    parser.add_argument("--model-dir", type=Path, default=ASSETS_DIR)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    settings = get_settings()
    results, markdown = run_evaluate(args.model_dir, settings.data_dir, default_manifest_path(),
                                     cache_dir=settings.var_dir / "vision" / "cache", img_dir=ROOT / "docs" / "img")
    out = settings.var_dir / "vision" / "evaluation.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    body = "## Photo classifier accuracy\n\n" + markdown
    logging.getLogger("benchmarks.vision_accuracy").info("\n%s", body)
    if not args.no_write:
        write_section("vision-accuracy", body, command="python -m benchmarks.vision_accuracy")


if __name__ == "__main__":
    main()
