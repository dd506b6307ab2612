"""User-facing errors: one clear line, exit code 2, never a traceback (see cli.main)."""


class TcatError(Exception):
    """A problem with the user's input. The message is shown as-is, on one line."""
