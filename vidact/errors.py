"""User-facing errors.

Every error a user can cause with bad input (a broken video, a wrong config key, a checkpoint for another
model) is a :class:`VidactError`. Its message is one line that names the thing and the problem; the CLI prints
it as ``error: <message>`` and exits with status 2 (a traceback only with ``--debug``).
"""

from __future__ import annotations

import os

__all__ = ["VidactError", "VideoError", "ConfigError", "CheckpointError", "DatasetError", "UnsafePickleError"]


class VidactError(Exception):
    """Base class of errors caused by the user's input rather than by a bug."""

    exit_code = 2


class VideoError(VidactError):
    """A video (file, GIF or frame folder) that cannot be read.

    Args:
        path: the file or folder.
        reason: what is wrong, in a few words ("empty file (0 bytes)", "no video stream (audio only)").
    """

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")

    def __reduce__(self):  # keep the two-argument constructor picklable (DataLoader workers)
        return (type(self), (self.path, self.reason))


class ConfigError(VidactError):
    """A recipe or command-line override that does not fit the schema."""


class CheckpointError(VidactError):
    """A checkpoint that is missing, corrupt, or made for another model."""


class DatasetError(VidactError):
    """A dataset root, annotation or split file that does not have the expected layout."""


class UnsafePickleError(VidactError):
    """A pickle that names a global outside what :func:`vidact._unpickle.safe_unpickle` admits (and so could run
    code): refused before that global is imported.

    Args:
        path: the file.
        name: the global it asks for (``"posix.system"``).
    """

    def __init__(self, path: str | os.PathLike, name: str):
        self.path = os.fspath(path)
        self.name = name
        super().__init__(
            f"{self.path}: not a safe pickle (it needs {name}, which vidact will not load from a pickle)"
        )

    def __reduce__(self):  # keep the two-argument constructor picklable (worker processes)
        return (type(self), (self.path, self.name))
