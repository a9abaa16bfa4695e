"""Asset checks: `genre_tables` on every genre table of a run, `source_data` on the raw ratings."""
