"""The emulator's model of Hive's text serdes (`genre_assets_emulator.hive_serde`) against Hive's
own serde classes (Spark SQL with Hive support: Hive 2.3.9, opencsv 2.3) on the same bytes.

Every case is one file; each serde configuration is one external table over a folder of such
files, read once with `input_file_name()`, so the whole matrix costs a handful of queries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from genre_assets.domain.schema import (
    GENRE_FILM_COLUMNS,
    LAZY_SIMPLE_SERDE,
    OPEN_CSV_SERDE,
    StorageFormat,
)
from genre_assets_emulator import hive_serde
from genre_assets_tests.hive.helpers import comparable, hive_ddl, hive_rows_by_file, run_script

pytestmark = pytest.mark.hive

DATABASE = "serde_model"


@dataclass(frozen=True)
class Config:
    """One table: a serde, its SerDe parameters and the columns (name, Hive type)."""

    serde: str
    parameters: dict[str, str]
    columns: tuple[tuple[str, str], ...]


CSV_COLUMNS = (("a", "string"), ("b", "string"), ("c", "string"))
CONFIGS = {
    # opencsv's own default escape, which the movies table used before.
    "csv_backslash": Config(
        OPEN_CSV_SERDE, {"separatorChar": ",", "quoteChar": '"', "escapeChar": "\\"}, CSV_COLUMNS
    ),
    # The product's movies table: escapeChar NUL.
    "csv_nul": Config(OPEN_CSV_SERDE, StorageFormat.QUOTED_CSV.storage.parameters, CSV_COLUMNS),
    # No SerDe parameters at all: OpenCSVSerde's defaults.
    "csv_default": Config(OPEN_CSV_SERDE, {}, CSV_COLUMNS),
    # The product's ratings table format, with every type the pipeline declares.
    "lazy_csv": Config(
        LAZY_SIMPLE_SERDE,
        StorageFormat.DELIMITED_CSV.storage.parameters,
        (
            ("l", "bigint"),
            ("d", "double"),
            ("s", "string"),
            ("i", "int"),
            ("x", "decimal(10,4)"),
        ),
    ),
    # The product's genre tables.
    "tsv": Config(
        LAZY_SIMPLE_SERDE,
        StorageFormat.ESCAPED_TSV.storage.parameters,
        tuple((c.name, c.hive_type.lower()) for c in GENRE_FILM_COLUMNS),
    ),
}

# One line each unless it says otherwise; "\n" is appended to every case that has no line end.
CSV_CASES: dict[str, bytes] = {
    "plain": b"1,Toy Story (1995),Comedy",
    "lone_backslash": b"15,Back\\slash (2004),Drama",
    "lone_backslash_quoted": b'15,"Back\\slash (2004)",Drama',
    "double_backslash": b"1,a\\\\b,c",
    "double_backslash_quoted": b'1,"a\\\\b",c',
    "backslash_quote_in_quotes": b'1,"say \\"hi\\" now",c',
    "backslash_before_closing_quote": b'1,"ends\\",c',
    "backslash_before_separator": b"1,a\\,b,c",
    "backslash_at_line_end": b"1,b,c\\",
    "backslash_first_in_field": b"1,\\b,c",
    "doubled_quotes": b'3,"Great ""Escape"" Artist (1963)",Action',
    "only_doubled_quotes": b'1,"""",c',
    "quoted_then_text": b'1,"a"b,c',
    "quoted_empty": b'1,"",c',
    "quoted_comma": b'2,"American President, The (1995)",Comedy',
    "mid_quote_pair": b'1,ab"cd"ef,g',
    "mid_quote_single": b'1,ab"cd,e',
    "quote_at_1": b'a"b,c,d',
    "quote_at_2": b'ab"c,d,e',
    "quote_at_3": b'abc"d,e,f',
    "quote_first_field": b'"1",a,b',
    "quote_then_separator": b'1,ab",c',
    "unterminated_quote": b'14,"Line,Drama',
    "unterminated_first": b'"open,b,c',
    "unterminated_last": b'1,b,"open',
    "space_before_quote": b'1,  "b",c',
    "space_around_quote": b'1, "b" ,c',
    "empty_fields": b",,",
    "empty_middle": b"1,,c",
    "missing_fields": b"1",
    "missing_one": b"1,b",
    "extra_fields": b"1,b,c,d,e",
    "trailing_separator": b"1,b,",
    "trailing_separator_extra": b"1,b,c,",
    "non_ascii": "5,Babylon 5 (1993–1998),Sci-Fi".encode(),
    "non_ascii_quoted": '1,"Café, Ünïcode ✓",c'.encode(),
    "tab_in_quotes": b'14,"Line\tBreak (2003)",Drama',
    "padding": b"8,  Padded Title  (2001)  ,Comedy",
    "nul_in_field": b"1,a\x00b,c",
    "nul_before_quote_in_quotes": b'1,"a\x00"b",c',
    "nul_before_nul_in_quotes": b'1,"a\x00\x00b",c',
    "crlf": b'1,a,b\r\n2,"c",d\r\n',
    "crlf_no_final": b"1,a,b\r\n2,c,d",
    "lone_cr": b"1,a,b\r2,c,d\n",
    "empty_line": b"1,a,b\n\n2,c,d\n",
    "blank_line": b"1,a,b\n \n",
    "quoted_newline": b'14,"Line\nBreak (2003)",Drama\n15,x,y\n',
    "no_final_newline": b"1,a,b\n2,c,d",
}

# Each token fills every column of a line: BIGINT, DOUBLE, STRING, INT and DECIMAL(10,4) at once.
LAZY_TOKENS = [
    "5", " 5", "5 ", "1.0", "1.5", "-1.5", "5.", ".5", ".", "x1", "1x", "", "\\N", "\\n", "1e3",
    "1E-2", "NaN", "+NaN", "NaN ", " NaN", "nan", "Infinity", "-Infinity", "inf", "+7", "-0",
    "+", "-", "1.2.3", "00042", "9223372036854775807", "9223372036854775808",
    "-9223372036854775808", "-9223372036854775809", "2147483647", "2147483648", "-2147483648",
    "-2147483649", "99999999999999999999999", "1e400", "4.9e-325", "0x10", "0x1p3", "1d",
    "2.5f", "1_000", "１２", "١٢", "\t5", "5\t", "null", "NULL", "1.23456", "1.23455",
    "-1.23455", "0.00005", "123456.78901", "1234567", "1234567.5", "1e2", "1e-5", "12.3e1",
    "Back\\slash", ".5e2", "0.5e2", "-.5", "1..5", "0e500", "1e-99", "0x1P-2", "1.d",
    "Infinityd", "\x0b5", "9" * 38 + ".9", "." + "0" * 38 + "5e2", "-0.00004", "0x1p9999",
]  # fmt: skip
LAZY_CASES: dict[str, bytes] = {
    f"token_{i:02d}": ",".join([token] * 5).encode() for i, token in enumerate(LAZY_TOKENS)
}
LAZY_CASES.update(
    {
        "rating_row": b"1,31,2.5,1260759144",
        "missing_fields": b"7",
        "two_fields": b"7,2.5",
        "extra_fields": b"1,2.5,s,4,5.5,6,7",
        "trailing_separator": b"1,2.5,s,4,5.5,",
        "empty_line": b"1,2,3,4,5\n\n1,2,3,4,5\n",
        "crlf": b"1,2.5,a,4,5\r\n6,7.5,b,8,9\r\n",
        "quotes_are_data": b'1,2,"quoted, not",4,5',
        "non_ascii": "1,2,Café ✓,4,5".encode(),
    }
)

TSV_CASES: dict[str, bytes] = {
    "plain": b"1\tToy Story\t1995\t4.0000\t2",
    "escaped_backslash": b"15\tBack\\\\slash\t2004\t2.5000\t1",
    "escaped_t": b"1\ttab\\there\t2000\t1.0000\t1",
    "escaped_n": b"1\tnew\\nline\t2000\t1.0000\t1",
    "escaped_r": b"1\tcarriage\\rreturn\t2000\t1.0000\t1",
    "escaped_0": b"1\tnul\\0byte\t2000\t1.0000\t1",
    "escaped_b_f": b"1\tbell\\bform\\ffeed\t2000\t1.0000\t1",
    "escaped_tab": b"11\tescaped\\\ttab\t2000\t1.0000\t1",
    "escaped_tab_in_number": b"1\\\t2\ttitle\t2000\t1.0000\t1",
    "trailing_backslash": b"1\tends with \\\t2000\t1.0000\t1",
    "backslash_at_line_end": b"1\tt\t2000\t1.0000\t1\\",
    "null_marker": b"1\t\\N\t\\N\t\\N\t\\N",
    "escaped_null_marker": b"1\t\\\\N\t2000\t1.0000\t1",
    "empty_year": b"7\tNameless Film\t\t1.5000\t1",
    "empty_title": b"7\t\t2000\t1.5\t1",
    "decimal_rounding": b"1\tt\t2000\t3.66666\t3",
    "decimal_short": b"1\tt\t2000\t2.5\t3",
    "decimal_too_big": b"1\tt\t2000\t1234567.0\t3",
    "decimal_spaces": b"1\tt\t2000\t 2.5 \t3",
    "year_fraction": b"1\tt\t2000.9\t2.5\t3",
    "missing_fields": b"1\tt",
    "extra_fields": b"1\tt\t2000\t2.5\t3\textra",
    "non_ascii": "5\tBabylon 5 – Café\t1993\t0.5000\t1".encode(),
    "quotes_are_data": b'3\tGreat "Escape" Artist\t1963\t5.0000\t1',
    "crlf": b"1\ta\t2000\t1.0000\t1\r\n2\tb\t2001\t2.0000\t2\r\n",
    "escaped_cr_before_lf": b"1\ta\\\r\n2\tb\t2001\t2.0000\t2\n",
}

CASES: dict[str, dict[str, bytes]] = {
    "csv_backslash": CSV_CASES,
    "csv_nul": CSV_CASES,
    "csv_default": CSV_CASES,
    "lazy_csv": LAZY_CASES,
    "tsv": TSV_CASES,
}


def _data(raw: bytes) -> bytes:
    return raw if raw.endswith((b"\n", b"\r")) else raw + b"\n"


@pytest.fixture(scope="module")
def hive_readings(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """{config: {case: rows}}: every case file read through Hive's serde, one query per config."""
    root = tmp_path_factory.mktemp("serde_cases")
    spark.sql(f"CREATE DATABASE IF NOT EXISTS {DATABASE}")
    readings: dict[str, Any] = {}
    for name, config in CONFIGS.items():
        folder = root / name
        folder.mkdir()
        for case, raw in CASES[name].items():
            (folder / f"{case}.txt").write_bytes(_data(raw))
        ddl = hive_ddl(DATABASE, name, config.columns, config.serde, config.parameters, folder)
        run_script(spark, ddl)
        readings[name] = hive_rows_by_file(spark, DATABASE, name)
    return readings


def model_rows(config: Config, raw: bytes) -> list[tuple[Any, ...]]:
    return hive_serde.read_rows(
        _data(raw),
        serde=config.serde,
        parameters=config.parameters,
        column_types=[hive_type for _, hive_type in config.columns],
        skip_header_lines=0,
    )


PARAMS = [pytest.param(name, case, id=f"{name}-{case}") for name in CASES for case in CASES[name]]


@pytest.mark.parametrize(("config_name", "case"), PARAMS)
def test_model_reads_like_hive(hive_readings: dict[str, Any], config_name: str, case: str) -> None:
    config = CONFIGS[config_name]
    raw = CASES[config_name][case]
    hive = hive_readings[config_name][f"{case}.txt"]
    model = model_rows(config, raw)
    assert comparable(model) == comparable(hive), f"{raw!r}\n hive : {hive!r}\n model: {model!r}"


def test_every_case_file_was_read(hive_readings: dict[str, Any]) -> None:
    """Each case file yields rows in Hive (an empty record too), and none is hidden from Hadoop's
    FileInputFormat by a leading '_' or '.'."""
    for name, cases in CASES.items():
        assert all(not case.startswith(("_", ".")) for case in cases)
        assert sorted(hive_readings[name]) == sorted(f"{case}.txt" for case in cases), name


def test_header_lines_are_skipped_per_file() -> None:
    data = b"movieId,title,genres\n1,a,b\n"
    config = CONFIGS["csv_nul"]
    rows = hive_serde.read_rows(
        data,
        serde=config.serde,
        parameters=config.parameters,
        column_types=["string"] * 3,
        skip_header_lines=1,
    )
    assert rows == [("1", "a", "b")]
