"""Errors a user can cause and fix; the CLI prints them as one line, the app as a message."""


class FourpathsError(Exception):
    """A problem with input, configuration or files that the user can act on."""


def one_line(error: BaseException) -> str:
    """An exception's first line (or its type's name): what a FourpathsError message quotes of it."""
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
