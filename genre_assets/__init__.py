"""genre-assets: MovieLens genre film tables as Dagster software-defined assets.

Local by default (a lake folder, DuckDB), or on AWS (S3, Glue, one transient EMR cluster per run).
"""

__version__ = "0.1.0"
