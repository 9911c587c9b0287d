"""Draw the README's pictures of the HTML report (one chart of each: fit, recommend, plan).

    .venv/bin/python .github/readme/make_pictures.py [OUTPUT_DIR]

Writes fit-memory.svg, recommend-price-speed.svg and plan-cost.svg (default: beside this script), with the
same chart code and the same deterministic SVG settings as `--format html`. The pictures live here, in a
hidden folder outside the sizer/ and gpu_catalog/ packages, so they are never in the wheel and the top level
of the repository stays as it is.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from sizer.catalog.loading import load_catalog  # noqa: E402
from sizer.recommendation.pipeline import Constraints, recommend  # noqa: E402
from sizer.render import charts  # noqa: E402
from sizer.sizing.fitter import fit  # noqa: E402

_HEADER = '<?xml version="1.0" encoding="utf-8" standalone="no"?>\n'


def main(out: Path) -> None:
    catalog = load_catalog()
    out.mkdir(parents=True, exist_ok=True)
    # sizer fit deepseek-v3 -q Q4_K_M --gpu rtx4090:2 --ram 768 -c 32k
    r = fit("deepseek-v3", quant="Q4_K_M", gpus=(("rtx4090", 2),), ram_bytes=768 * 10**9, context_tokens=32768,
            catalog=catalog)
    pictures = {"fit-memory.svg": charts.memory_chart(r.model_dump(mode="json"))}
    # sizer recommend deepseek-v3 -c 32k   and   sizer plan deepseek-v3 -c 32k   (the same search)
    rec = recommend("deepseek-v3", Constraints(context_tokens=32768), catalog=catalog).model_dump(mode="json")
    pictures["recommend-price-speed.svg"] = charts.price_speed_chart(rec)
    pictures["plan-cost.svg"] = charts.plan_chart(rec)
    for name, svg in pictures.items():
        (out / name).write_text(_HEADER + svg, encoding="utf-8")
        print(f"{out / name}: {len(_HEADER + svg) / 1000:.1f} kB")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent)
