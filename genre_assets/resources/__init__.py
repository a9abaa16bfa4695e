"""Dagster resources: the lake (storage), the catalog (table metadata) and the engine (SQL).

Assets talk only to the abstract interfaces in `lake`, `catalog` and `engine`; each deployment in
`genre_assets.deployments` plugs in its own implementations from `local/` or `aws/`;
`raw_files` finds and checks the raw CSVs in any lake.
"""
