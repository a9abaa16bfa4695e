"""Deterministic synthetic MovieLens "latest"-format lake.

This module owns the sample data the project runs on when the real MovieLens
files are not at hand: ``generate_sample_lake`` writes
``<lake_dir>/movielens/movies/movies.csv`` and
``<lake_dir>/movielens/ratings/ratings.csv`` in exactly the byte format of the
real ``ml-latest`` files (headers, RFC 4180 quoting, ``\\n`` line endings,
UTF-8, ratings written as ``4.0``/``3.5``, rows sorted by userId then movieId).

The data carries the quirks of the real files on purpose, so that code tested
on it does not break on the real thing: titles that need quoting (commas,
double quotes), series year ranges (``(2007-)``, ``(1975-1979)``,
``(1975–1979)``), titles without a year, stray spaces around the year,
non-ASCII titles, a title shared by two movies, ``(no genres listed)``, movies
nobody rated, Zipf-like movie popularity and user activity, ratings bunched
at 3.0-4.0, and whole stars only before half stars were introduced
(2003-02-18).  Each user rates a movie at most once.

The same ``(ratings, movies, seed)`` always gives byte-identical files;
movies.csv depends only on ``(movies, seed)``.  Everything per rating is
vectorised with numpy (25M ratings take seconds, not minutes).
"""

from __future__ import annotations

import operator
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genre_assets.domain.genres import MOVIELENS_GENRES
from genre_assets.domain.schema import MOVIES, RATINGS
from genre_assets.resources.local.lake import write_atomically

__all__ = ["GENRES", "NO_GENRES", "SampleLakeSummary", "generate_sample_lake"]

NO_GENRES = "(no genres listed)"
# The real genre tokens; "(no genres listed)" replaces them all rather than joining them.
GENRES: tuple[str, ...] = tuple(g for g in MOVIELENS_GENRES if g != NO_GENRES)

MOVIES_HEADER = ",".join(MOVIES.csv_header) + "\n"
RATINGS_HEADER = (",".join(RATINGS.csv_header) + "\n").encode()

# Upper bounds keep ids inside uint32 (what the CSV formatter handles) and
# stop a typo from trying to allocate hundreds of GiB.
MAX_MOVIES = 10_000_000
MAX_RATINGS = 500_000_000

# Relative genre frequencies, roughly those of ml-latest.
_GENRE_WEIGHTS = np.array(
    [7.3, 4.1, 2.9, 2.9, 16.9, 5.3, 5.6, 25.6, 2.7, 0.35,
     6.0, 0.2, 1.05, 2.9, 7.7, 3.6, 8.7, 1.9, 1.4],
)  # fmt: skip
# Per-genre shift of the mean rating (in stars) so per-genre averages differ
# the way they do in the real data (noir and documentaries high, horror low).
_GENRE_RATING_BIAS = np.array(
    [-0.05, 0.0, 0.1, -0.15, -0.05, 0.05, 0.25, 0.1, 0.0, 0.3,
     -0.35, 0.15, 0.0, 0.05, 0.0, -0.05, 0.0, 0.2, 0.05],
)  # fmt: skip
# Share of movies with 1, 2, ... 6 genres.
_GENRE_COUNT_P = np.array([0.36, 0.32, 0.20, 0.08, 0.03, 0.01])
_NO_GENRES_SHARE = 0.005
_UNRATED_SHARE = 0.01

# Fixed rows that carry the real files' quirks.  They are placed at
# seed-dependent positions but are always present (all of them once
# movies >= len(_QUIRK_MOVIES)); earlier entries win when movies is smaller.
# Together they use every genre, so small lakes still see the whole vocabulary.
_QUIRK_MOVIES: tuple[tuple[str, str], ...] = (
    ("American President, The (1995)", "Comedy|Drama|Romance"),
    ('"Great Performances" Cats (1998)', "Musical"),
    ("Big Bang Theory, The (2007-)", "Comedy"),
    ("Fawlty Towers (1975-1979)", "Comedy"),
    ("Starsky and Hutch (1975–1979)", "Action|Crime"),
    ("Babylon 5", "Sci-Fi"),
    ("Pirates of the Great Salt Lake (2006)", NO_GENRES),
    ("Amélie (Fabuleux destin d'Amélie Poulain, Le) (2001)", "Comedy|Romance"),
    ("Deadly Voyage (1996) ", "Drama|Thriller"),
    ("Midnight Harbor  (1999)", "Horror|Mystery"),
    ('Great "Escape" Artist, The (1963)', "Adventure|War"),
    ("Good, the Bad and the Ugly, The (Buono, il brutto, il cattivo, Il) (1966)",
     "Action|Adventure|Western"),
    ("Double Indemnity (1944)", "Crime|Drama|Film-Noir"),
    ("Fantasia 2000 (1999)", "Animation|Children|Fantasy|IMAX|Musical"),
    ("Hoop Dreams (1994)", "Documentary"),
    ("Léon: The Professional (a.k.a. The Professional) (Léon) (1994)",
     "Action|Crime|Drama|Thriller"),
    ("Infernal Affairs (Mou gaan dou) (無間道) (2002)", "Crime|Drama|Thriller"),
    ("1984 (1984)", "Drama|Sci-Fi"),
    ("2001: A Space Odyssey (1968)", "Adventure|Drama|Sci-Fi"),
    ("Hyena Road", "Drama|War"),
    # Two movies share a title, as "Emma (1996)" does in ml-latest.
    ("Emma (1996)", "Comedy|Drama|Romance"),
    ("Emma (1996)", "Romance"),
)  # fmt: skip

_ADJECTIVES = (
    "Silent", "Broken", "Last", "Dark", "Golden", "Lost", "Hidden", "Wild",
    "Crimson", "Frozen", "Endless", "Burning", "Quiet", "Savage", "Electric",
    "Forgotten", "Secret", "Little", "Big", "Lonely", "Midnight", "Iron",
    "Bitter", "Sweet", "Final", "Eternal", "Restless", "Hollow", "Distant",
    "Fallen", "Shining", "Wicked", "Gentle", "Crooked", "Blue", "Red",
    "Black", "White", "Strange", "Perfect", "Dangerous", "Invisible",
    "Northern", "Southern", "Sleeping", "Runaway", "Haunted", "Brave",
)  # fmt: skip
_NOUNS = (
    "River", "City", "Night", "Summer", "Winter", "Heart", "Road", "Storm",
    "Garden", "Mirror", "Kingdom", "Island", "Shadow", "Train", "House",
    "Machine", "Harbor", "Forest", "Empire", "Dream", "Stranger", "Witness",
    "Hunter", "Soldier", "Doctor", "Thief", "Detective", "Dancer", "Queen",
    "King", "Planet", "Ocean", "Mountain", "Desert", "Bridge", "Tower",
    "Promise", "Secret", "Song", "Voyage", "Game", "Family", "Wedding",
    "Circus", "Prison", "Angel", "Ghost", "Wolf", "Horse", "Dragon", "Star",
    "Moon", "Sun", "Fire", "Rain", "Letter", "Journey", "Escape", "Affair",
)  # fmt: skip
_NAMES = (
    "Johnny", "Lucy", "Max", "Annie", "Charlie", "Frankie", "Rosa", "Sam",
    "Emma", "Oliver", "Grace", "Hector", "Ivy", "Jack", "Lola", "Marty",
)  # fmt: skip
# Non-ASCII words for "original title" parentheses, as ml-latest has them.
_FOREIGN_WORDS = (
    "Étoile", "Château", "niño", "Mädchen", "garçon", "Søren", "über", "día",
    "corazón", "fête", "élan", "Straße", "Öl", "año", "Noël", "Ångström",
    "la", "le", "der", "el", "del", "mon", "amour", "noche", "ciudad",
)  # fmt: skip

# Epoch seconds: first real MovieLens rating, half stars introduced, end of
# the synthetic rating period.
_FIRST_TIMESTAMP = 789_652_009
_HALF_STAR_TIMESTAMP = 1_045_526_400
_LAST_TIMESTAMP = 1_697_000_000

_MEAN_RATINGS_PER_USER = 150
# The most popular movie gets ~(exponent - 1) / offset = 0.33% of all ratings,
# about what half of all users can give at 150 ratings per user on average.
_POPULARITY_EXPONENT = 1.8
_POPULARITY_OFFSET = 240
# Dedup top-up rounds that still follow popularity before switching to
# uniform draws, which always converge (each user rates <= half the movies).
_POPULAR_TOPUP_ROUNDS = 3
_MAX_TOPUP_ROUNDS = 200
_CHUNK_ROWS = 1 << 20


@dataclass(frozen=True)
class SampleLakeSummary:
    """What ``generate_sample_lake`` wrote."""

    movies_path: Path
    ratings_path: Path
    movie_count: int
    rating_count: int
    genres: tuple[str, ...]  # distinct genre tokens written, sorted


@dataclass(frozen=True)
class _Movies:
    ids: np.ndarray  # int64, ascending with gaps
    titles: list[str]
    genre_masks: np.ndarray  # uint32 bit i set = GENRES[i]; 0 = no genres


def generate_sample_lake(
    lake_dir: Path | str,
    *,
    ratings: int = 100_000,
    movies: int = 2_000,
    seed: int = 42,
) -> SampleLakeSummary:
    """Write a synthetic MovieLens movies.csv and ratings.csv under ``lake_dir``.

    Files go to ``<lake_dir>/movielens/movies/movies.csv`` and
    ``<lake_dir>/movielens/ratings/ratings.csv``; each is written to a
    temporary name and renamed into place, so a crash never leaves half a
    file.  ``genres`` in the summary includes ``(no genres listed)`` when a
    movie carries it, since that is a token the file contains.
    """
    ratings = _checked_int("ratings", ratings, 0, MAX_RATINGS)
    movies = _checked_int("movies", movies, 1, MAX_MOVIES)
    seed = _checked_int("seed", seed, 0, None)
    lake = Path(lake_dir)

    # Separate streams: movies.csv does not change when only `ratings` does.
    movie_seq, rating_seq = np.random.SeedSequence(seed).spawn(2)
    table = _make_movies(np.random.default_rng(movie_seq), movies)

    movies_path = lake / "movielens" / "movies" / "movies.csv"
    ratings_path = lake / "movielens" / "ratings" / "ratings.csv"
    genre_strings = _genre_strings(table.genre_masks)
    write_atomically(movies_path, [_render_movies(table, genre_strings)])
    write_atomically(
        ratings_path,
        _rating_chunks(np.random.default_rng(rating_seq), table, ratings),
    )
    tokens = {token for genres in set(genre_strings) for token in genres.split("|")}
    return SampleLakeSummary(
        movies_path=movies_path,
        ratings_path=ratings_path,
        movie_count=movies,
        rating_count=ratings,
        genres=tuple(sorted(tokens)),
    )


def _checked_int(name: str, value: object, low: int, high: int | None) -> int:
    """Return ``value`` as an int in [low, high] or raise a clear ValueError."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an integer, got bool {value!r}")
    try:
        number = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise ValueError(
            f"{name} must be an integer, got {type(value).__name__} {value!r}"
        ) from None
    if number < low:
        raise ValueError(f"{name} must be >= {low}, got {number}")
    if high is not None and number > high:
        raise ValueError(f"{name} must be <= {high:,}, got {number:,}")
    return number


# --------------------------------------------------------------------------
# movies
# --------------------------------------------------------------------------


def _make_movies(rng: np.random.Generator, n: int) -> _Movies:
    """Draw ids, titles and genres, then overwrite random rows with quirks."""
    ids = _movie_ids(rng, n)
    titles = _titles(rng, n)
    masks = _genre_masks(rng, n)
    quirks = _QUIRK_MOVIES[:n]
    positions = rng.choice(n, size=len(quirks), replace=False)
    for pos, (title, genres) in zip(positions.tolist(), quirks, strict=False):
        titles[pos] = title
        masks[pos] = _mask_of(genres)
    return _Movies(ids=ids, titles=titles, genre_masks=masks)


def _movie_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    """Ascending ids from 1 with gaps, like ids freed by removed movies."""
    steps = np.where(rng.random(n) < 0.65, 1, 1 + rng.geometric(0.15, n))
    steps[0] = 1
    return np.cumsum(steps, dtype=np.int64)


def _titles(rng: np.random.Generator, n: int) -> list[str]:
    """Synthetic titles in MovieLens style: ``Name, The (1999)`` etc."""
    years = np.clip(2023 - np.floor(rng.exponential(20.0, n)), 1902, 2023)
    kinds = rng.choice(9, size=n, p=[0.30, 0.10, 0.12, 0.06, 0.10, 0.06, 0.12, 0.08, 0.06])
    adj = rng.integers(0, len(_ADJECTIVES), n).tolist()
    noun = rng.integers(0, len(_NOUNS), (n, 2)).tolist()
    name = rng.integers(0, len(_NAMES), n).tolist()
    foreign = rng.integers(0, len(_FOREIGN_WORDS), (n, 2)).tolist()
    sequel = rng.integers(2, 6, n).tolist()
    titles = []
    for i, (kind, year) in enumerate(zip(kinds.tolist(), years.astype(int).tolist(), strict=False)):
        a, (n1, n2) = _ADJECTIVES[adj[i]], (_NOUNS[noun[i][0]], _NOUNS[noun[i][1]])
        if kind == 0:
            base = f"{a} {n1}"
        elif kind == 1:
            base = f"{n1} of the {n2}"
        elif kind == 2:  # MovieLens moves leading articles to the end
            article = "An" if a[0] in "AEIOU" else ("A" if i % 3 == 0 else "The")
            base = f"{a} {n1}, {article}"
        elif kind == 3:
            base = f"{_NAMES[name[i]]}'s {n1}"
        elif kind == 4:
            base = f"{n1}: {a} {n2}"
        elif kind == 5:
            base = f"{a} {n1} {sequel[i]}"
        elif kind == 6:
            base = n1
        elif kind == 7:
            f1, f2 = _FOREIGN_WORDS[foreign[i][0]], _FOREIGN_WORDS[foreign[i][1]]
            base = f"{a} {n1} ({f1} {f2})"
        else:
            base = f"{a} {n1} (a.k.a. {n2} {n1})"
        titles.append(f"{base} ({year})")
    return titles


def _genre_masks(rng: np.random.Generator, n: int) -> np.ndarray:
    """Weighted genre sets without replacement, as 19-bit masks.

    Gumbel-top-k: adding Gumbel noise to log-weights and keeping the k best
    per row samples k genres without replacement, all rows at once.
    """
    counts = 1 + rng.choice(len(_GENRE_COUNT_P), size=n, p=_GENRE_COUNT_P)
    scores = np.log(_GENRE_WEIGHTS) + rng.gumbel(size=(n, len(GENRES)))
    rank = np.argsort(np.argsort(-scores, axis=1), axis=1)
    chosen = rank < counts[:, None]
    bits = np.uint32(1) << np.arange(len(GENRES), dtype=np.uint32)
    masks = (chosen * bits).sum(axis=1, dtype=np.uint32)
    masks[rng.random(n) < _NO_GENRES_SHARE] = 0
    return masks


def _mask_of(genres: str) -> int:
    """Bit mask of a ``|``-joined genre string (0 for no genres)."""
    if genres == NO_GENRES:
        return 0
    return sum(1 << GENRES.index(token) for token in genres.split("|"))


def _genre_strings(masks: np.ndarray) -> list[str]:
    """The genres field per movie: tokens in alphabetical order, like MovieLens."""
    cache: dict[int, str] = {}
    out = []
    for mask in masks.tolist():
        text = cache.get(mask)
        if text is None:
            tokens = [g for bit, g in enumerate(GENRES) if mask >> bit & 1]
            text = cache[mask] = "|".join(tokens) if tokens else NO_GENRES
        out.append(text)
    return out


def _csv_field(text: str) -> str:
    """RFC 4180: quote only when needed, doubling inner quotes."""
    if any(ch in text for ch in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _render_movies(table: _Movies, genre_strings: list[str]) -> bytes:
    """The whole movies.csv as UTF-8 bytes (small enough to build at once)."""
    lines = [MOVIES_HEADER]
    for movie_id, title, genres in zip(
        table.ids.tolist(), table.titles, genre_strings, strict=False
    ):
        lines.append(f"{movie_id},{_csv_field(title)},{_csv_field(genres)}\n")
    return "".join(lines).encode("utf-8")


# --------------------------------------------------------------------------
# ratings
# --------------------------------------------------------------------------


def _rating_chunks(rng: np.random.Generator, table: _Movies, n: int) -> Iterator[bytes]:
    """Yield ratings.csv as byte chunks, header first, sorted by user, movie."""
    yield RATINGS_HEADER
    if n == 0:
        return
    movie_count = len(table.ids)
    rated = _rated_movie_indices(rng, movie_count)
    n_rated = len(rated)
    cap = max(1, n_rated // 2)
    users = max(-(-n // _MEAN_RATINGS_PER_USER), -(-n // cap))
    per_user = _ratings_per_user(rng, n, users, cap)
    keys = _unique_user_movie_keys(rng, per_user, n_rated)
    quality = _movie_quality(rng, table.genre_masks[rated])
    user_bias = rng.normal(0.0, 0.35, users)
    first_ts, span = _user_time_windows(rng, users)
    rated_ids = table.ids[rated].astype(np.uint32)

    def columns(start: int) -> tuple[np.ndarray, ...]:
        chunk = keys[start : start + _CHUNK_ROWS]
        user = chunk // n_rated
        movie = chunk - user * n_rated
        ts = first_ts[user] + (rng.random(len(chunk)) * span[user]).astype(np.int64)
        half_stars = _half_stars(rng, quality[movie] + user_bias[user], ts)
        return (user + 1).astype(np.uint32), rated_ids[movie], half_stars, ts.astype(np.uint32)

    # Random draws stay on this thread, in chunk order (determinism); the
    # pure formatting of earlier chunks overlaps them on a worker thread
    # (numpy releases the GIL), and results are yielded in order.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending: deque[Future[bytes]] = deque()
        for start in range(0, n, _CHUNK_ROWS):
            pending.append(pool.submit(_format_rating_rows, *columns(start)))
            if len(pending) > 2:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _rated_movie_indices(rng: np.random.Generator, movie_count: int) -> np.ndarray:
    """Indices of movies that may be rated; ~1% (at least one) never are."""
    if movie_count < 2:
        return np.arange(movie_count)
    unrated_count = max(1, round(movie_count * _UNRATED_SHARE))
    unrated = rng.choice(movie_count, size=unrated_count, replace=False)
    keep = np.ones(movie_count, dtype=bool)
    keep[unrated] = False
    return np.flatnonzero(keep)


def _ratings_per_user(rng: np.random.Generator, n: int, users: int, cap: int) -> np.ndarray:
    """Skewed (log-normal) activity, >= 1 and <= cap ratings per user, sum n."""
    weights = rng.lognormal(0.0, 1.2, users)
    counts = 1 + rng.multinomial(n - users, weights / weights.sum())
    for _ in range(64):
        excess = int(np.maximum(counts - cap, 0).sum())
        if excess == 0:
            return counts
        np.minimum(counts, cap, out=counts)
        open_weights = np.where(counts < cap, weights, 0.0)
        counts += rng.multinomial(excess, open_weights / open_weights.sum())
    # Pathological near-full capacity: fill the remaining slots in user order.
    excess = int(np.maximum(counts - cap, 0).sum())
    np.minimum(counts, cap, out=counts)
    spare = cap - counts
    before = np.cumsum(spare) - spare
    counts += np.clip(excess - before, 0, spare)
    return counts


def _popular_movies(rng: np.random.Generator, n_rated: int) -> Callable[[int], np.ndarray]:
    """Sampler of movie indices with Zipf-like popularity.

    Popularity rank r has weight ``(r + offset) ** -exponent``; ranks are dealt
    to movies at random.  Drawing by the inverse CDF of that power law costs
    one ``pow`` per draw, several times cheaper than a CDF search.
    """
    movie_of_rank = rng.permutation(n_rated)
    power = 1.0 - _POPULARITY_EXPONENT
    head = _POPULARITY_OFFSET**power
    tail = (n_rated + _POPULARITY_OFFSET) ** power

    def sample(size: int) -> np.ndarray:
        rank = (head - rng.random(size) * (head - tail)) ** (1.0 / power)
        rank -= _POPULARITY_OFFSET
        return movie_of_rank[np.minimum(rank.astype(np.int64), n_rated - 1)]

    return sample


def _unique_user_movie_keys(
    rng: np.random.Generator, per_user: np.ndarray, n_rated: int
) -> np.ndarray:
    """Sorted distinct ``user * n_rated + movie`` keys, ``per_user[u]`` per user.

    Draws movies by popularity, drops repeated pairs and redraws only the
    shortfall, so each user keeps exactly the activity drawn for them.
    """
    popular_movies = _popular_movies(rng, n_rated)

    def draw(users: np.ndarray, popular: bool) -> np.ndarray:
        if popular:
            movie = popular_movies(len(users))
        else:
            movie = rng.integers(0, n_rated, len(users))
        return users * n_rated + movie

    def distinct(keys: np.ndarray) -> np.ndarray:
        keys.sort()
        return keys[np.concatenate(([True], keys[1:] != keys[:-1]))]

    user_ids = np.arange(len(per_user), dtype=np.int64)
    keys = distinct(draw(np.repeat(user_ids, per_user), popular=True))
    missing = per_user - np.bincount(keys // n_rated, minlength=len(per_user))
    for round_no in range(_MAX_TOPUP_ROUNDS):
        if not missing.any():
            return keys
        extra = distinct(draw(np.repeat(user_ids, missing), round_no < _POPULAR_TOPUP_ROUNDS))
        where = np.searchsorted(keys, extra)
        taken = keys[np.minimum(where, len(keys) - 1)] == extra
        fresh = ~taken
        keys = np.insert(keys, where[fresh], extra[fresh])
        missing -= np.bincount(extra[fresh] // n_rated, minlength=len(per_user))
    raise RuntimeError("could not draw distinct (user, movie) pairs; this is a bug")


def _movie_quality(rng: np.random.Generator, masks: np.ndarray) -> np.ndarray:
    """Mean rating per movie in stars: genre-driven shift plus noise."""
    bits = (masks[:, None] >> np.arange(len(GENRES), dtype=np.uint32)) & 1
    genre_count = np.maximum(bits.sum(axis=1), 1)
    shift = (bits * _GENRE_RATING_BIAS).sum(axis=1) / genre_count
    return 3.55 + shift + rng.normal(0.0, 0.4, len(masks))


def _user_time_windows(rng: np.random.Generator, users: int) -> tuple[np.ndarray, np.ndarray]:
    """First rating time and active span (seconds) per user."""
    first = rng.integers(_FIRST_TIMESTAMP, _LAST_TIMESTAMP, users, dtype=np.int64)
    # Most users rate in a burst; a few stay for years.
    span = np.floor(rng.lognormal(np.log(86_400 * 20), 2.0, users))
    span = np.minimum(span, _LAST_TIMESTAMP - first).astype(np.int64)
    return first, span


def _half_stars(rng: np.random.Generator, mean: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """Ratings in half-star units 1..10, around ``mean`` stars.

    Before 2003-02-18 MovieLens only had whole stars, and afterwards people
    still pick whole stars more often than halves.
    """
    # Exponential term: a left tail of disappointed raters (real data has
    # more 0.5-1.5 ratings than a normal spread gives).
    size = len(mean)
    stars = mean + rng.normal(0.0, 0.8, size) + 0.6 - rng.exponential(0.6, size)
    whole = (ts < _HALF_STAR_TIMESTAMP) | (rng.random(size) < 0.2)
    half_units = np.where(whole, 2 * np.rint(stars), np.rint(2 * stars))
    low = np.where(whole, 2, 1)
    return np.clip(half_units, low, 10).astype(np.uint8)


# --------------------------------------------------------------------------
# CSV formatting
# --------------------------------------------------------------------------

_LUT_DIGITS = 5
# Row i is the zero-padded 5-digit ASCII of i: two lookups format a uint32.
_DIGIT_LUT = np.stack(
    [48 + (np.arange(10**_LUT_DIGITS) // 10**k) % 10 for k in range(_LUT_DIGITS - 1, -1, -1)],
    axis=1,
).astype(np.uint8)
# Row h is the text of h half stars: "0.5", "1.0", ... "5.0".
_RATING_TEXT = np.array(
    [[48 + h // 2, ord("."), 48 + 5 * (h % 2)] for h in range(11)], dtype=np.uint8
)


def _digit_width(values: np.ndarray) -> int:
    """Digits in the largest value (at least 1)."""
    return len(str(int(values.max()))) if len(values) else 1


def _put_uint(row_bytes: np.ndarray, keep: np.ndarray, col: int, values: np.ndarray) -> int:
    """Write ``values`` right-aligned at ``col``; mark leading zeros dropped.

    Returns the column after the field.
    """
    width = _digit_width(values)
    if width > 2 * _LUT_DIGITS:
        raise ValueError(f"value too large to format: {int(values.max())}")
    if width <= _LUT_DIGITS:
        row_bytes[:, col : col + width] = _DIGIT_LUT[values][:, _LUT_DIGITS - width :]
    else:
        high, low = np.divmod(values, np.uint32(10**_LUT_DIGITS))
        split = col + width - _LUT_DIGITS
        row_bytes[:, col:split] = _DIGIT_LUT[high][:, 2 * _LUT_DIGITS - width :]
        row_bytes[:, split : col + width] = _DIGIT_LUT[low]
    # Digit j (from the left) is shown iff value >= 10**(width-1-j); the last
    # digit always is, so zero prints as "0".
    powers = np.array([10**p for p in range(width - 1, 0, -1)] + [0], dtype=np.uint32)
    keep[:, col : col + width] = values[:, None] >= powers
    return col + width


def _format_rating_rows(
    user_ids: np.ndarray, movie_ids: np.ndarray, half_stars: np.ndarray, ts: np.ndarray
) -> bytes:
    """``user,movie,rating,timestamp\\n`` rows as bytes, all numpy.

    Each row is laid out fixed-width in a byte matrix, with a mask that drops
    leading zeros; boolean indexing then yields the variable-width text.
    """
    widths = [_digit_width(v) for v in (user_ids, movie_ids, ts)]
    row_width = sum(widths) + 3 + 4  # rating text + 3 commas + newline
    row_bytes = np.empty((len(user_ids), row_width), dtype=np.uint8)
    keep = np.ones((len(user_ids), row_width), dtype=bool)
    col = _put_uint(row_bytes, keep, 0, user_ids)
    row_bytes[:, col] = ord(",")
    col = _put_uint(row_bytes, keep, col + 1, movie_ids)
    row_bytes[:, col] = ord(",")
    row_bytes[:, col + 1 : col + 4] = _RATING_TEXT[half_stars]
    row_bytes[:, col + 4] = ord(",")
    col = _put_uint(row_bytes, keep, col + 5, ts)
    row_bytes[:, col] = ord("\n")
    return row_bytes[keep].tobytes()


# --------------------------------------------------------------------------
# files
# --------------------------------------------------------------------------
