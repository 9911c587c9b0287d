"""Parsing and formatting of the quantities users type."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sizer.errors import BadValueError
from sizer.limits import MAX_CONTEXT_TOKENS
from sizer.units import (
    GpuSpec,
    format_gib,
    format_params,
    format_tokens,
    parse_gpu_spec,
    parse_memory_bytes,
    parse_param_count,
    parse_token_count,
)


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("32k", 32 * 1024),
        ("128K", 128 * 1024),
        ("1M", 1024 * 1024),
        ("32768", 32768),
        ("1.5k", 1536),
        (" 8k ", 8192),
        ("4096", 4096),
    ],
)
def test_token_counts_are_binary_multiples(text: str, tokens: int) -> None:
    assert parse_token_count(text) == tokens


@pytest.mark.parametrize(
    ("text", "params"),
    [
        ("1T", 10**12),
        ("37B", 37 * 10**9),
        ("7.6e9", 7_600_000_000),
        ("671b", 671 * 10**9),
        ("0.6B", 600_000_000),
        ("70M", 70 * 10**6),
        ("1.04T", 1_040_000_000_000),
    ],
)
def test_param_counts_are_decimal(text: str, params: int) -> None:
    assert parse_param_count(text) == params


@pytest.mark.parametrize(
    ("text", "size_bytes"),
    [
        ("768", 768 * 10**9),
        ("768GB", 768 * 10**9),
        ("512GiB", 512 * 2**30),
        ("1.5TB", 1_500_000_000_000),
        ("24 gb", 24 * 10**9),
        ("1TiB", 2**40),
        ("64MiB", 64 * 2**20),
    ],
)
def test_memory_sizes_bare_number_is_gb(text: str, size_bytes: int) -> None:
    assert parse_memory_bytes(text) == size_bytes


@pytest.mark.parametrize("text", ["", "k", "32kk", "-8k", "0", "abc", "1e400", "0.4", "3 tokens"])
def test_bad_token_counts_say_what_was_expected(text: str) -> None:
    with pytest.raises(BadValueError) as info:
        parse_token_count(text)
    assert repr(text) in str(info.value)


@pytest.mark.parametrize("text", ["12 parsecs", "-5GB", "GB", "0"])
def test_bad_memory_sizes_fail(text: str) -> None:
    with pytest.raises(BadValueError):
        parse_memory_bytes(text)


def test_bad_value_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="'lots' is not a number"):
        parse_param_count("lots")


@given(st.integers(min_value=1, max_value=MAX_CONTEXT_TOKENS))
def test_format_tokens_round_trips(tokens: int) -> None:
    assert parse_token_count(format_tokens(tokens)) == tokens


@pytest.mark.parametrize(
    ("parse", "text"),
    [(parse_token_count, "1025M"), (parse_token_count, "1e12"), (parse_param_count, "1e16"),
     (parse_param_count, "1e29"), (parse_memory_bytes, "2e9TB")],
)
def test_counts_beyond_a_physical_bound_are_refused(parse, text) -> None:
    with pytest.raises(BadValueError, match="too large"):
        parse(text)


@pytest.mark.parametrize(
    ("tokens", "text"), [(32768, "32k"), (131072, "128k"), (1048576, "1M"), (40960, "40k"), (1000, "1000")]
)
def test_format_tokens_uses_suffixes_for_exact_multiples(tokens: int, text: str) -> None:
    assert format_tokens(tokens) == text


@given(st.integers(min_value=1, max_value=10**13))
def test_format_params_is_within_half_a_percent(params: int) -> None:
    assert parse_param_count(format_params(params)) == pytest.approx(params, rel=5e-3)


def test_format_gib_has_one_decimal() -> None:
    assert format_gib(80 * 2**30) == "80.0 GiB"
    assert format_gib(1.25 * 2**30) == "1.2 GiB"  # round half to even on .25 -> .2


@pytest.mark.parametrize(
    ("text", "spec"),
    [
        ("h100:8", GpuSpec("h100", 8)),
        ("RTX 4090:2", GpuSpec("RTX 4090", 2)),
        ("rtx4090", GpuSpec("rtx4090", 1)),
    ],
)
def test_gpu_spec(text: str, spec: GpuSpec) -> None:
    assert parse_gpu_spec(text) == spec


@pytest.mark.parametrize("text", ["h100:0", "h100:x", ":4", "h100:-1", ""])
def test_bad_gpu_spec(text: str) -> None:
    with pytest.raises(BadValueError):
        parse_gpu_spec(text)


def test_format_params_rounds_up_to_the_next_suffix_instead_of_exponent_notation() -> None:
    from sizer.units import format_params

    assert format_params(999_885_952) == "1B"  # Gemma-3-1B, not "1e+03M"
    assert "e" not in format_params(999_999)
