"""`--format html` (issue 14): self-contained pages, deterministic charts, the same numbers as the JSON
output, the optional serving curve and suggestions, listings as a plain table page, a clean error without
the extra. The browser checks are in test_html_browser.py."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sizer.catalog.loading import load_catalog
from sizer.recommendation.pipeline import Constraints, recommend
from sizer.render import charts
from sizer.render.html_report import render_fit_html, render_recommend_html
from sizer.sizing.context_sweep import context_ladder, decode_by_context
from sizer.sizing.fitter import fit
from sizer.sizing.results import CurvePoint, FitResult, Suggestion
from tests.conftest import RunCli

GIB = 2**30
FIT = ["fit", "llama-3.1-8b-instruct", "--gpu", "rtx4090", "-c", "16k"]
RECOMMEND = ["recommend", "llama-3.1-70b-instruct", "-c", "8k", "--top", "5"]


class _Tables(HTMLParser):
    """Every <table> of a page as {"title": the <h2> before it, "header": [...], "rows": [[...]]}, and the text."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[dict[str, Any]] = []
        self.text: list[str] = []
        self._h2 = ""
        self._in: str | None = None
        self._cell: list[str] = []
        self._row: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append({"title": self._h2, "header": [], "rows": []})
        elif tag in ("td", "th", "h2"):
            self._in, self._cell = tag, []
        elif tag == "tr":
            self._row = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._in == tag:
            self._row.append("".join(self._cell).strip())
            self._in = None
        elif tag == "h2" and self._in == "h2":
            self._h2, self._in = "".join(self._cell).strip(), None
        elif tag == "tr" and self.tables:
            table = self.tables[-1]
            if table["header"]:
                table["rows"].append(self._row)
            else:
                table["header"] = self._row

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._in:
            self._cell.append(data)


def _tables(page: str) -> _Tables:
    parser = _Tables()
    parser.feed(page)
    return parser


def _table(page: str, title: str) -> list[dict[str, str]]:
    for t in _tables(page).tables:
        if t["title"].startswith(title):
            return [dict(zip(t["header"], row, strict=True)) for row in t["rows"]]
    raise AssertionError(f"no table titled {title!r}")


def _number(cell: str) -> float:
    """'16.7 GiB' -> 16.7, '$8,499' -> 8499, '49.1 tok/s' -> 49.1, '160k' -> 160000."""
    match = re.search(r"[-\d,]+(\.\d+)?k?", cell)
    assert match, cell
    text = match.group(0).replace(",", "")
    return float(text[:-1]) * 1000 if text.endswith("k") else float(text)


def _svgs(page: str) -> list[str]:
    return re.findall(r"<svg.*?</svg>", page, re.S)


# --- self-contained, offline, printable ------------------------------------------------------------

@pytest.mark.parametrize("args", [FIT, RECOMMEND, ["plan", *RECOMMEND[1:]]], ids=["fit", "recommend", "plan"])
def test_page_is_self_contained(args: list[str], run_cli: RunCli) -> None:
    result = run_cli(*args, "--format", "html")
    assert result.exit_code == 0, result.output
    page = result.stdout
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    lowered = page.lower()
    for fetches in ("<script", "<link", "<iframe", "<img", "@import", "url(http", "src="):
        assert fetches not in lowered, fetches
    # the only links are the sources, for a reader to follow; nothing loads them
    links = re.findall(r'(?<![:\w])href="([^"]*)"', page)
    assert links and all(h.startswith(("https://", "http://")) for h in links)
    assert all(h.startswith("#") for h in re.findall(r'xlink:href="([^"]*)"', page))  # SVG's own references
    assert "<style>" in page and "@media print" in page
    assert len(_svgs(page)) >= 1


def test_ids_are_unique_across_the_charts_of_a_page(run_cli: RunCli) -> None:
    """Each chart's clip paths, markers and groups get their own ids: one chart never clips with another's
    clip path, and the page stays valid HTML."""
    page = run_cli(*FIT, "-u", "2", "--format", "html").stdout
    assert len(_svgs(page)) == 2
    referenced = set(re.findall(r'url\(#([^)]+)\)', page)) | set(re.findall(r'xlink:href="#([^"]+)"', page))
    assert referenced
    ids = re.findall(r'\sid="([^"]+)"', page)
    assert referenced <= set(ids)
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})


def test_charts_are_deterministic(run_cli: RunCli) -> None:
    first, second = (run_cli(*RECOMMEND, "--format", "html").stdout for _ in range(2))
    assert _svgs(first) == _svgs(second)
    assert "dc:date" not in first  # no date in the SVG metadata
    fit_pages = {run_cli(*FIT, "--format", "html").stdout for _ in range(2)}
    assert len(fit_pages) == 1  # the fit page has no run time in it: byte for byte the same


def test_user_text_is_escaped(run_cli: RunCli, tmp_path: Any) -> None:
    """A model name from a user's file cannot inject markup into the page."""
    config = tmp_path / "config.json"
    config.write_text(json.dumps({
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 512, "intermediate_size": 1024,
        "num_hidden_layers": 2, "num_attention_heads": 8, "num_key_value_heads": 8, "vocab_size": 1000,
        "max_position_embeddings": 4096, "_name_or_path": "<script>alert(1)</script>"}))
    result = run_cli("fit", str(config), "--gpu", "rtx4090", "--format", "html")
    assert result.exit_code == 0, result.output
    assert "<script" not in result.stdout.lower()


# --- the same numbers as the JSON output --------------------------------------------------------------

_MODELS = ["llama-3.1-8b-instruct", "qwen3-30b-a3b", "gemma-3-27b-it", "deepseek-v3"]
_GPUS = [("rtx4090", 1), ("rtx3090", 2), ("h100", 8), ("a100-80gb", 4)]


@settings(max_examples=8, deadline=None)
@given(model=st.sampled_from(_MODELS), gpu=st.sampled_from(_GPUS), context=st.sampled_from([2048, 8192, 32768]),
       users=st.integers(1, 4), ram=st.sampled_from([None, 256]))
def test_fit_page_numbers_equal_the_json(model: str, gpu: tuple[str, int], context: int, users: int,
                                         ram: int | None) -> None:
    catalog = load_catalog()
    args: dict[str, Any] = dict(gpus=(gpu,), context_tokens=context, users=users, catalog=catalog,
                                ram_bytes=ram * 10**9 if ram else None)
    r = fit(model, **args)
    data = json.loads(r.model_dump_json())
    page = render_fit_html(r)  # (the context chart re-runs fit: tested below; it adds no table number)
    memory = {row["part"]: _number(row["GiB"]) for row in _table(page, "Memory")}
    assert memory["total"] == round(data["memory"]["total_bytes"] / GIB, 1)
    assert memory["weights (total)"] == round(data["memory"]["weights_bytes"] / GIB, 1)
    kv = next(v for k, v in memory.items() if k.startswith("KV cache"))
    assert kv == round(data["memory"]["kv_cache_bytes"] / GIB, 1)
    placement = _table(page, "Placement")
    assert len(placement) == len(data["placement"])
    for row, device in zip(placement, data["placement"], strict=True):
        assert _number(row["capacity GiB"]) == round(device["capacity_bytes"] / GIB, 1)
        assert _number(row["free GiB"]) == round(device["free_bytes"] / GIB, 1)
    speed = {row["metric"]: row["value"] for row in _table(page, "Speed")}
    assert _number(speed["decode, 1 sequence"]) == round(data["performance"]["decode_tokens_per_s"], 1)
    text = "".join(_tables(page).text)
    assert ("DOES NOT FIT" in text) is (data["fits"] is False)
    assert f"{data['max_context']:,} tokens" in text


@settings(max_examples=4, deadline=None)
@given(context=st.sampled_from([4096, 32768]), users=st.sampled_from([1, 8]), vendor=st.sampled_from(["nvidia", "amd"]))
def test_recommend_page_numbers_equal_the_json(context: int, users: int, vendor: str) -> None:
    res = recommend("llama-3.1-70b-instruct", Constraints(context_tokens=context, users=users, vendors=(vendor,), top=5),
                    catalog=load_catalog())
    data = json.loads(res.model_dump_json())
    rows = _table(render_recommend_html(res), "Ranked configurations")
    assert len(rows) == len(data["recommendations"])
    for row, rec in zip(rows, data["recommendations"], strict=True):
        assert int(row["#"]) == rec["rank"]
        assert _number(row["tok/s/user"]) == round(rec["per_user_decode_tokens_per_s"], 1)
        if rec["cost"]["capex_usd"] is not None:
            assert _number(row["capex"]) == round(rec["cost"]["capex_usd"])


# --- charts from what the result carries ------------------------------------------------------------------

def test_every_fitting_configuration_is_a_point_and_the_front_is_undominated() -> None:
    """`configurations` holds the chart's points; its `pareto` flags are checked here by brute force."""
    res = recommend("llama-3.1-70b-instruct", Constraints(context_tokens=8192, top=5), catalog=load_catalog())
    points = res.configurations
    assert len(points) == res.search.fitting
    assert sum(p.pareto for p in points) == res.search.pareto

    def key(p: Any) -> tuple[float, float, float | None]:
        return (float("inf") if p.capex_usd is None else p.capex_usd, p.per_user_decode_tokens_per_s, p.mean_kld)

    def beats(a: Any, b: Any) -> bool:
        (pa, sa, qa), (pb, sb, qb) = key(a), key(b)
        if (qa is None) != (qb is None):
            return False
        qa, qb = qa or 0.0, qb or 0.0
        return pa <= pb and sa >= sb and qa <= qb and (pa < pb or sa > sb or qa < qb)

    for p in points:
        dominated = any(beats(o, p) for o in points if o is not p)
        assert p.pareto is not dominated, p
    ranked = {p.rank: p.summary for p in points if p.rank is not None}
    assert ranked == {r.rank: r.summary for r in res.recommendations}




def test_serving_curve_and_suggestions_render_when_the_result_carries_them() -> None:
    base = fit("llama-3.1-8b-instruct", gpus=(("rtx4090", 1),), context_tokens=8192, catalog=load_catalog())
    assert base.performance is not None
    curve = [{"users": u, "per_user_decode_tokens_per_s": 50.0 / u**0.3, "aggregate_decode_tokens_per_s": 50.0 * u**0.7,
              "decode_tokens_per_s_per_gpu": 50.0 * u**0.7, "ttft_s": 0.5 * u, "fits": u <= 16} for u in (1, 2, 4, 8, 16, 32)]
    suggestions = [{"change": "use Q4_K_M", "args": ["--quant", "Q4_K_M"], "fits": True, "decode_tokens_per_s": 98.76,
                    "ttft_s": 1.23, "note": "4.9 GiB of weights"}]
    performance = base.performance.model_copy(update={"curve": [CurvePoint.model_validate(c) for c in curve]})
    r = FitResult(**{**dict(base), "performance": performance,
                     "suggestions": [Suggestion.model_validate(s) for s in suggestions]})
    page = render_fit_html(r)
    assert 'id="chart-curve"' in page
    assert len(re.findall(r'id="curve-ax[01]-mark\d+"', page)) >= 4  # a line and points on each of the two axes
    serving = _table(page, "Serving curve")
    assert [int(row["users"]) for row in serving] == [1, 2, 4, 8, 16, 32]
    assert _number(serving[-1]["tok/s all users"]) == round(50.0 * 32**0.7, 1)
    assert [row["fits"] for row in serving] == ["yes"] * 5 + ["no"]
    (advice,) = _table(page, "Suggestions")
    assert advice == {"change": "use Q4_K_M", "arguments": "--quant Q4_K_M", "fits": "yes", "decode tok/s": "98.8",
                      "TTFT s": "1.23", "note": "4.9 GiB of weights"}


def test_plan_chart_stacks_capital_and_energy_per_configuration() -> None:
    """Bar widths in the SVG follow the costs: a configuration costing twice as much draws twice as wide."""
    costs = [{"capex_usd": 1000.0, "gpus_usd": 600.0, "host_usd": 400.0, "ram_usd": 0.0, "energy_usd_per_year": 100.0,
              "years": 3.0, "usd_per_million_tokens": 2.0},
             {"capex_usd": 2000.0, "gpus_usd": 1200.0, "host_usd": 800.0, "ram_usd": 0.0, "energy_usd_per_year": 200.0,
              "years": 3.0, "usd_per_million_tokens": None}]
    svg = charts.plan_chart({"recommendations": [{"rank": i + 1, "cost": c} for i, c in enumerate(costs)]})
    widths = _bar_widths(svg, "plan-ax0")
    assert len(widths) == 6  # GPUs, host, energy for each of the two rows (no RAM, no system)
    gpus, host, energy = widths[0:2], widths[2:4], widths[4:6]
    for pair, (a, b) in zip((gpus, host, energy), ((600, 1200), (400, 800), (300, 600)), strict=True):
        assert pair[1] / pair[0] == pytest.approx(b / a, rel=1e-3)
    assert gpus[0] / energy[0] == pytest.approx(600 / 300, rel=1e-3)
    assert "unknown" in svg  # the second row's $/M tokens


def _bar_widths(svg: str, axes: str) -> list[float]:
    """Widths of the rectangles drawn as marks of `axes` (matplotlib writes each bar as a closed path)."""
    out = []
    for body in re.findall(rf'<g id="{axes}-mark\d+">\s*<path d="([^"]+)"', svg):
        xs = [float(x) for x in re.findall(r"[ML] ?([\d.]+) [\d.]+", body)]
        out.append(max(xs) - min(xs))
    return out


def test_context_ladder_spans_short_to_longest_and_holds_the_request() -> None:
    ladder = context_ladder(8192, 73728)
    assert ladder[0] == 512 and ladder[-1] == 73728 and 8192 in ladder
    assert ladder == sorted(set(ladder))
    assert context_ladder(8192, 0)[-1] == 8192  # nothing longer fits: the requested context ends the ladder
    assert context_ladder(256, None) == [256]


def test_decode_slows_as_the_context_fills() -> None:
    """More tokens in the cache mean more bytes read per token: never faster, and the requested point is the fit."""
    catalog = load_catalog()
    args: dict[str, Any] = dict(gpus=(("rtx4090", 1),), context_tokens=8192, catalog=catalog)
    r = fit("llama-3.1-8b-instruct", **args)
    points = decode_by_context("llama-3.1-8b-instruct", r, **args)
    speeds = [p.decode_tokens_per_s for p in points]
    assert speeds == sorted(speeds, reverse=True) and speeds[0] > speeds[-1]
    assert r.performance is not None
    assert next(p for p in points if p.context_tokens == 8192).decode_tokens_per_s == r.performance.decode_tokens_per_s


# --- other commands and the missing extra --------------------------------------------------------------

def test_listings_get_a_plain_table_page(run_cli: RunCli) -> None:
    listing = json.loads(run_cli("gpus", "list", "--vendor", "amd", "--format", "json").stdout)
    result = run_cli("gpus", "list", "--vendor", "amd", "--format", "html")
    assert result.exit_code == 0
    (table,) = _tables(result.stdout).tables
    assert len(table["rows"]) == len(listing)
    assert "<svg" not in result.stdout


@pytest.mark.parametrize("missing", ["matplotlib", "jinja2"])
def test_without_the_extra_html_is_a_clean_error(missing: str, run_cli: RunCli,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, missing, None)  # import fails as if not installed
    result = run_cli(*FIT, "--format", "html")
    assert result.exit_code == 1
    assert "pip install 'sizer[html]'" in result.stderr
    assert "Traceback" not in result.output


# --- the README's pictures ------------------------------------------------------------------------------

_ROOT = Path(__file__).resolve().parents[1]
_PICTURES = ["fit-memory.svg", "recommend-price-speed.svg", "plan-cost.svg"]


def test_readme_shows_one_small_picture_of_each_report() -> None:
    readme = (_ROOT / "README.md").read_text(encoding="utf-8")
    for name in _PICTURES:
        picture = _ROOT / ".github" / "readme" / name
        assert f"(.github/readme/{name})" in readme
        assert picture.stat().st_size < 100_000
        assert "-ax0-mark0" in picture.read_text(encoding="utf-8")  # a chart with marks, drawn by sizer


def test_the_picture_script_redraws_them(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(_ROOT / ".github" / "readme" / "make_pictures.py"), str(tmp_path)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    for name in _PICTURES:
        svg = (tmp_path / name).read_text(encoding="utf-8")
        assert svg.startswith("<?xml") and svg.rstrip().endswith("</svg>") and len(svg) < 100_000
