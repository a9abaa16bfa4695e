"""Package layout that pyproject.toml cannot express: the top-level `sql/` folder ships inside the
package as `genre_assets.sql` (its Jinja2 templates are package data), so a wheel carries them,
and `deploy/` as `genre_assets.deploy` (the IAM policies `genre-assets doctor` reads, the
instance settings).

Everything else (metadata, dependencies, entry points) lives in pyproject.toml.
"""

from setuptools import find_packages, setup

setup(
    packages=[
        *find_packages(include=["genre_assets", "genre_assets.*", "genre_assets_emulator"]),
        "genre_assets.sql",
        "genre_assets.deploy",
    ],
    package_dir={"genre_assets.sql": "sql", "genre_assets.deploy": "deploy"},
    package_data={"genre_assets.sql": ["**/*.j2"], "genre_assets.deploy": ["*.json", "*.yaml"]},
)
