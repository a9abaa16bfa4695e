"""End-to-end tests: real dagster-webserver and dagster-daemon processes, GraphQL and Chromium."""
