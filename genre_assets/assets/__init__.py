"""The asset graph: raw_movies, raw_ratings (observed CSV folders) and film_database -> movies,
ratings -> columnar_cache -> genre_film_export -> genre_film_table."""

from genre_assets.assets.columnar_cache import columnar_cache
from genre_assets.assets.genre_films import genre_film_export, genre_film_table
from genre_assets.assets.raw_sources import RAW_SOURCES, raw_movies, raw_ratings
from genre_assets.assets.source_tables import film_database, movies, ratings

RAW_SOURCE_KEYS = [source.key for source in RAW_SOURCES]


ALL_ASSETS = [
    raw_movies,
    raw_ratings,
    film_database,
    movies,
    ratings,
    columnar_cache,
    genre_film_export,
    genre_film_table,
]

__all__ = [
    "ALL_ASSETS",
    "RAW_SOURCE_KEYS",
    "columnar_cache",
    "film_database",
    "genre_film_export",
    "genre_film_table",
    "movies",
    "ratings",
    "raw_movies",
    "raw_ratings",
]
