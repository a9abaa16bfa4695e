"""The SQL and shell templates, installed as the package `genre_assets.sql` (see setup.py)."""
