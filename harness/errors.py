"""The one family of errors that are the user's to fix; anything else is a bug (with traceback)."""


class HarnessError(Exception):
    """A problem the user can act on: the message says what is wrong and what to do."""
