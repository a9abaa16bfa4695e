"""The asset graph: film_database -> movies, ratings -> genre_film_export -> genre_film_table."""

from genre_assets.assets.genre_films import genre_film_export, genre_film_table
from genre_assets.assets.source_tables import film_database, movies, ratings

ALL_ASSETS = [film_database, movies, ratings, genre_film_export, genre_film_table]

__all__ = ["ALL_ASSETS", "film_database", "genre_film_export", "genre_film_table", "movies", "ratings"]
