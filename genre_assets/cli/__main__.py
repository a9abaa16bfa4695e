"""`python -m genre_assets.cli`: the same as the `genre-assets` console script."""

from genre_assets.cli.main import run

run()
