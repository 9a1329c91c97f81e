"""Errors a user can act on: the command-line tools print them as one line and exit non-zero."""


class UserError(Exception):
    """Base class for problems with the user's input, files or settings (not bugs)."""


class MusicFileError(UserError):
    """A music file that cannot be read: corrupt, empty, unsupported or absurd."""

    def __init__(self, path, reason):
        self.path = str(path)
        self.reason = str(reason)
        super().__init__(f"{self.path}: {self.reason}")
