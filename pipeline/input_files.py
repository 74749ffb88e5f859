"""What --input names: a file, a glob, or a folder (read as every file in it).

Beam's file sources take a file pattern; a folder given as the pattern
would be opened as a file and fail deep in the runner. So a local folder
becomes ``folder/*`` at launch, and a remote one (``gs://bucket/folder/``,
with its trailing slash: an object store has no folders to look at without
credentials) becomes ``gs://bucket/folder/*``.
"""

from __future__ import annotations

import glob
import os

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems


class InputError(ValueError):
    """--input cannot be read as given; ``str(err)`` is one line for the user."""


def is_local(path: str) -> bool:
    return FileSystems.get_scheme(path) in (None, "file")


def input_pattern(path: str) -> str:
    """The file pattern that reads `path`: itself, or every file of the folder it names.

    Raises InputError when a local folder, or a local glob, takes in a
    folder (Beam's sources read files only, and do not descend).
    """
    if not is_local(path):
        return path + "*" if path.endswith("/") else path
    if os.path.isdir(path):
        pattern = os.path.join(path, "*")
        folders = sorted(name for name in glob.glob(pattern) if os.path.isdir(name))
        if folders:
            raise InputError(f"--input {path} is a folder holding folders ({folders[0]}, ...): "
                             f"give a glob of the files to read, e.g. {os.path.join(path, '*.jsonl')}")
        return pattern
    if glob.has_magic(path):
        folders = sorted(name for name in glob.glob(path) if os.path.isdir(name))
        if folders:
            raise InputError(f"--input {path} matches the folder {folders[0]}: give a glob that matches files only")
    return path


def first_bytes(pattern: str, size: int = 4096) -> tuple[str, bytes] | None:
    """The first file `pattern` matches and its first `size` bytes (decompressed by extension), or None."""
    try:
        matched = FileSystems.match([pattern])[0].metadata_list
        if not matched:
            return None
        path = sorted(m.path for m in matched)[0]
        with FileSystems.open(path, compression_type=CompressionTypes.AUTO) as handle:
            return path, handle.read(size)
    except Exception:  # only a hint depends on it: an unreadable file gives none
        return None
