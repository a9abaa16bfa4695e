"""Errors that carry a message meant for the person running the pipeline.

Anything raised as `GenreAssetsError` is reported by the CLI as one paragraph (file, line, genre),
never as a traceback: the message must say what is wrong and what to do about it.
"""


class GenreAssetsError(Exception):
    """Base class for failures whose message is written for users."""


class InputError(GenreAssetsError):
    """A value typed by a user (genre, identifier, path) or a raw file is not acceptable."""


class UnknownGenreError(InputError):
    """A requested genre occurs in no movie and is not a MovieLens genre: most likely a typo."""


class ConfigurationError(GenreAssetsError):
    """The deployment's configuration is missing or inconsistent."""


class EngineError(GenreAssetsError):
    """The SQL engine failed to run a statement."""
