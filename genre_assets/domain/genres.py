"""Genre vocabulary, validation and the slug rule (docs/contract.md).

Everything that turns a user-typed genre string into a file path, an S3 key or a table name goes
through `slug()` after `validate_genre()`, so hostile strings never reach storage or SQL unchecked.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence

from genre_assets.errors import InputError, UnknownGenreError

# The genres of the MovieLens "latest" releases, in the order the UI lists them.
MOVIELENS_GENRES: tuple[str, ...] = (
    "Action",
    "Adventure",
    "Animation",
    "Children",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "IMAX",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
    "(no genres listed)",
)

MAX_GENRE_LENGTH = 100

_NON_SLUG_RUN = re.compile(r"[^a-z0-9]+")
# Control characters would corrupt TSV rows, log lines and S3 keys alike.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def slug(genre: str) -> str:
    """`Sci-Fi` -> `sci_fi`: lower-case, runs of non `a-z0-9` become `_`, outer `_` stripped."""
    return _NON_SLUG_RUN.sub("_", genre.lower()).strip("_")


def validate_genre(genre: str) -> str:
    """Return `genre` unchanged when it can be used as a partition key, else raise InputError."""
    if not isinstance(genre, str) or genre == "":
        raise InputError("a genre must be a non-empty string")
    if len(genre) > MAX_GENRE_LENGTH:
        raise InputError(f"genre is {len(genre)} characters long; the limit is {MAX_GENRE_LENGTH}")
    if genre != genre.strip():
        raise InputError(f"genre {genre!r} has leading or trailing white space")
    if _CONTROL.search(genre):
        raise InputError(f"genre {genre!r} contains a control character")
    if "|" in genre:
        raise InputError(f"genre {genre!r} contains '|', the separator of the genres field")
    if not slug(genre):
        raise InputError(
            f"genre {genre!r} has no letters or digits, so it has no file or table name"
        )
    return genre


def usable_genres(tokens: Iterable[str]) -> tuple[list[str], list[str]]:
    """Split genre tokens found in data into those that can be partitions and those that cannot
    (empty, control characters, no letters or digits), which are reported instead."""
    usable, unusable = [], []
    for token in tokens:
        try:
            usable.append(validate_genre(token))
        except InputError:
            unusable.append(token)
    return usable, unusable


def validate_genres(genres: Iterable[str]) -> list[str]:
    """Validate each genre, drop repeats (keeping order) and reject two genres sharing a slug."""
    unique = list(dict.fromkeys(validate_genre(g) for g in genres))
    by_slug: dict[str, str] = {}
    for genre in unique:
        other = by_slug.setdefault(slug(genre), genre)
        if other != genre:
            raise InputError(
                f"genres {other!r} and {genre!r} would share the output name {slug(genre)!r}; "
                "materialise them in separate runs"
            )
    return unique


def unknown_genres(requested: Iterable[str], genre_counts: Mapping[str, int]) -> list[str]:
    """The requested genres that are likely typos: no movie in movies.csv has them and they are
    not MovieLens genres either. A vocabulary genre without films (IMAX in the 1M release) is a
    real genre whose table is simply empty, so it is not refused."""
    return [g for g in requested if not genre_counts.get(g) and g not in MOVIELENS_GENRES]


def closest_genre(genre: str, candidates: Iterable[str]) -> str | None:
    """The candidate a user most likely meant: the same slug (`sci fi` for `Sci-Fi`), else the
    closest spelling ignoring case and punctuation, else None."""
    by_key: dict[str, str] = {}
    for candidate in sorted(set(candidates), key=lambda c: (c not in MOVIELENS_GENRES, c)):
        by_key.setdefault(slug(candidate).replace("_", ""), candidate)
    key = slug(genre).replace("_", "")
    if key in by_key:
        return by_key[key]
    close = difflib.get_close_matches(key, list(by_key), n=1, cutoff=0.75)
    return by_key[close[0]] if close else None


def refuse_unknown_genres(
    requested: Sequence[str], genre_counts: Mapping[str, int], *, override: str
) -> None:
    """Raise UnknownGenreError naming each requested genre that no movie has (see
    `unknown_genres`) with the closest known genre as a suggestion; `override` says how to
    materialise such a genre anyway (a CLI flag, a run tag)."""
    unknown = unknown_genres(requested, genre_counts)
    if not unknown:
        return
    known = [*MOVIELENS_GENRES, *(g for g, count in genre_counts.items() if count)]
    lines = []
    for genre in unknown:
        line = f"unknown genre {genre!r} (not in movies.csv)"
        suggestion = closest_genre(genre, known)
        lines.append(f"{line}; did you mean {suggestion!r}?" if suggestion else line)
    lines.append(f"for a genre that later data will bring: {override}")
    raise UnknownGenreError("\n".join(lines))


def table_name(genre: str) -> str:
    """The catalog table that holds one genre: `<slug>_films`."""
    return f"{slug(genre)}_films"


def export_folder(genre: str) -> str:
    """Lake key of the folder holding one genre's export (the catalog table's location)."""
    return f"movielens/{slug(genre)}/"


def export_key(genre: str) -> str:
    """Lake key of one genre's TSV export."""
    return f"{export_folder(genre)}{slug(genre)}_films.tsv"


def ordered_genres(genres: Sequence[str]) -> list[str]:
    """The vocabulary first in its own order, then any other genres sorted by code point."""
    known = [g for g in MOVIELENS_GENRES if g in genres]
    extra = sorted(set(genres) - set(MOVIELENS_GENRES))
    return known + extra
