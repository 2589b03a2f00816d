"""Errors a user can cause and fix; the CLI prints them as one line, the app as a message."""


class FourpathsError(Exception):
    """A problem with input, configuration or files that the user can act on."""
