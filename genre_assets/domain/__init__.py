"""The rules of the output contract (docs/contract.md), free of Dagster and of any storage.

`genres` (vocabulary, validation, slugs, paths), `targets` (a requested genre and its names),
`schema` (every table and its storage format) and `tsv` (the export's byte format).
"""
