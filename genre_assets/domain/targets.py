"""A requested genre and every name derived from it (docs/contract.md: slugs, tables, paths)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from genre_assets.domain import genres as genre_rules
from genre_assets.domain.schema import TableSpec, genre_table_spec


@dataclass(frozen=True)
class GenreTarget:
    """A requested genre with the names derived from it."""

    name: str

    @property
    def slug(self) -> str:
        return genre_rules.slug(self.name)

    @property
    def table(self) -> str:
        return genre_rules.table_name(self.name)

    @property
    def export_folder(self) -> str:
        return genre_rules.export_folder(self.name)

    @property
    def export_key(self) -> str:
        return genre_rules.export_key(self.name)

    def table_spec(self) -> TableSpec:
        return genre_table_spec(self.table, self.export_folder)


def genre_targets(names: Sequence[str]) -> list[GenreTarget]:
    """Validated targets for the requested genres (rejects bad strings and slug collisions)."""
    return [GenreTarget(name) for name in genre_rules.validate_genres(names)]
