"""Sensors: the genre-partition seeder (more arrive with the Glue check and the janitor)."""
