"""Errors a user can meet and act on.

Raise :class:`UserError` with a message that says what is wrong, where, and what to do; the CLI
prints it as one line instead of a stack trace.
"""


class UserError(Exception):
    """A problem the user can fix (configuration, a taken port, an unreachable source).

    ``source_ref`` names the batch (file, API window, table window) the problem is about, if any.
    """

    def __init__(self, message: str, source_ref: str | None = None) -> None:
        super().__init__(message)
        self.source_ref = source_ref
