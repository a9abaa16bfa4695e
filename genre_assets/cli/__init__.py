"""The command line: `genre-assets sample-data | materialize` and the helpers behind it.

`main` parses the arguments; `launcher` runs the asset graph for a set of genres; `progress` is
the run logger that prints one line per step; `sample_data` writes synthetic MovieLens lakes.
"""
