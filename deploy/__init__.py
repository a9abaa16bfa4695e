"""Deployment files (instance settings, IAM policies), shipped inside the package as
`genre_assets.deploy` (see setup.py), so `genre-assets doctor` reads the same policy from a wheel
as from a checkout."""
