"""The asset graph: film_database -> movies, ratings -> columnar_cache -> genre_film_export ->
genre_film_table."""

from genre_assets.assets.columnar_cache import columnar_cache
from genre_assets.assets.genre_films import genre_film_export, genre_film_table
from genre_assets.assets.source_tables import film_database, movies, ratings

ALL_ASSETS = [film_database, movies, ratings, columnar_cache, genre_film_export, genre_film_table]

__all__ = [
    "ALL_ASSETS",
    "columnar_cache",
    "film_database",
    "genre_film_export",
    "genre_film_table",
    "movies",
    "ratings",
]
