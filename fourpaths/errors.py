"""Errors a user can cause and fix; the CLI prints them as one line, the app as a message."""


class FourpathsError(Exception):
    """A problem with input, configuration or files that the user can act on."""


class QuestionTooLong(FourpathsError):
    """The question is longer than a path's model can read, counted in that model's own tokens."""


class QuestionRefused(FourpathsError):
    """No path can read the question: `reasons` holds each path's QuestionTooLong line."""

    def __init__(self, reasons: dict[str, str]) -> None:
        self.reasons = reasons
        super().__init__("no path can read a question this long: shorten it ("
                         + "; ".join(f"{path}: {reason}" for path, reason in reasons.items()) + ")")


def one_line(error: BaseException) -> str:
    """An exception's first line (or its type's name): what a FourpathsError message quotes of it."""
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
