"""When a Glue table counts as the one the Hive DDL would create (so its step can be skipped)."""

from genre_assets.domain.schema import MOVIES, RATINGS
from genre_assets.resources.aws.glue_tables import TableShape, matches
from genre_assets_emulator.tables import table_input


def _glue(shape: TableShape) -> dict:
    return table_input("t", shape)


def test_a_table_made_by_our_ddl_matches_even_with_parameters_hive_adds():
    expected = TableShape.of_spec(MOVIES, "s3://b/m/")
    hive_made = TableShape(
        location="s3://b/m",
        columns=expected.columns,
        serde=expected.serde,
        skip_header=True,
        serde_parameters=(*expected.serde_parameters, ("serialization.format", "1")),
    )
    assert matches(_glue(hive_made), expected)


def test_a_movies_table_with_the_old_backslash_escape_is_replaced():
    """Tables made before escapeChar became NUL dropped backslashes from titles: the DDL step must
    run again for them, not be skipped because location, columns and serde agree."""
    expected = TableShape.of_spec(MOVIES, "s3://b/m/")
    old = TableShape(
        location="s3://b/m/",
        columns=expected.columns,
        serde=expected.serde,
        skip_header=True,
        serde_parameters=(("escapeChar", "\\"), ("quoteChar", '"'), ("separatorChar", ",")),
    )
    assert not matches(_glue(old), expected)


def test_other_location_columns_or_serde_do_not_match():
    expected = TableShape.of_spec(RATINGS, "s3://b/r/")
    assert not matches(None, expected)
    for change in (
        {"location": "s3://b/other/"},
        {"columns": expected.columns[:-1]},
        {"serde": "org.apache.hadoop.hive.serde2.OpenCSVSerde"},
        {"skip_header": False},
    ):
        shape = TableShape(**{**expected.__dict__, **change})
        assert not matches(_glue(shape), expected), change
