"""The export format read back: previews take the head of a file, parsing reports bad lines."""

import pytest

from genre_assets.domain.tsv import parse_export
from genre_assets.errors import InputError
from genre_assets.resources.engine import head_lines

HEADER = b"movie_id\ttitle\tyear\tavg_rating\trating_count\n"


def test_head_lines_keeps_the_header_and_the_first_rows_whole():
    data = b"h\n1\n2\n3\n"
    assert head_lines(data, 2) == b"h\n1\n2\n"
    assert head_lines(data, 3) == data
    assert head_lines(data, 9) == data
    assert head_lines(b"h\n", 5) == b"h\n"


def test_parse_export_with_a_limit_reads_only_the_first_rows():
    data = HEADER + b"1\tA\t1999\t4.0000\t2\n2\tB\\\\C\t\t3.5000\t1\nbroken line\n"
    first_two = parse_export(data, "x.tsv", limit=2)
    assert [(r.movie_id, r.title, r.year) for r in first_two] == [(1, "A", 1999), (2, "B\\C", None)]
    with pytest.raises(InputError, match=r"x\.tsv, line 4: 1 fields"):
        parse_export(data, "x.tsv")
