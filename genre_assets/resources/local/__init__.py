"""The local deployment: a folder as the lake, a DuckDB file as the catalog, DuckDB as the engine.

`lake`, `catalog`, `duckdb_engine` and `columnar_cache` (the engine's Parquet copies of the raw CSVs).
"""
