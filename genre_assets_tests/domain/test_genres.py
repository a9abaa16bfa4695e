"""The slug rule and genre validation (docs/contract.md)."""

import pytest

from genre_assets.domain import genres
from genre_assets.errors import InputError


@pytest.mark.parametrize(
    ("genre", "expected"),
    [
        ("Sci-Fi", "sci_fi"),
        ("(no genres listed)", "no_genres_listed"),
        ("Children's", "children_s"),
        ("Film-Noir", "film_noir"),
        ("IMAX", "imax"),
        ("  Mixed   CASE--genre!! ", "mixed_case_genre"),
        ("Amélie", "am_lie"),
    ],
)
def test_slug(genre, expected):
    assert genres.slug(genre) == expected


def test_export_key_and_table_follow_the_slug():
    assert genres.export_key("Sci-Fi") == "movielens/sci_fi/sci_fi_films.tsv"
    assert genres.table_name("(no genres listed)") == "no_genres_listed_films"


@pytest.mark.parametrize(
    "bad",
    ["", " Comedy", "Comedy ", "Com\nedy", "Drama|Comedy", "---", "'; --", "x" * 101, "\t"],
)
def test_invalid_genres_are_rejected(bad):
    with pytest.raises(InputError):
        genres.validate_genre(bad)


@pytest.mark.parametrize(
    "odd_but_valid",
    ["Children's", "Comedy'; DROP TABLE movies; --", "50% _off_", 'Say "hi"', "a/../b", "(x)*+?[]"],
)
def test_hostile_but_meaningful_genres_are_kept_exactly(odd_but_valid):
    # These are handled exactly (quoted literals, slug paths), so they are not rejected.
    assert genres.validate_genre(odd_but_valid) == odd_but_valid
    assert "/" not in genres.slug(odd_but_valid) and ".." not in genres.slug(odd_but_valid)


def test_genres_sharing_a_slug_are_refused_together():
    with pytest.raises(InputError, match="share the output name 'sci_fi'"):
        genres.validate_genres(["Sci-Fi", "Sci Fi"])


def test_validate_genres_drops_repeats_and_keeps_order():
    assert genres.validate_genres(["Drama", "Action", "Drama"]) == ["Drama", "Action"]


def test_ordered_genres_puts_vocabulary_first_then_code_point_order():
    assert genres.ordered_genres(["Zzz", "Drama", "Children's", "Action"]) == [
        "Action",
        "Drama",
        "Children's",
        "Zzz",
    ]
