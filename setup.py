"""Package layout that pyproject.toml cannot express: the top-level `sql/` folder ships inside the
package as `genre_assets.sql` (its Jinja2 templates are package data), so a wheel carries them.

Everything else (metadata, dependencies, entry points) lives in pyproject.toml.
"""

from setuptools import find_packages, setup

setup(
    packages=[
        *find_packages(include=["genre_assets", "genre_assets.*", "genre_assets_emulator"]),
        "genre_assets.sql",
    ],
    package_dir={"genre_assets.sql": "sql"},
    package_data={"genre_assets.sql": ["**/*.j2"]},
)
