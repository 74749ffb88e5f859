"""A Beam filesystem for tests that cannot append, like Cloud Storage: ``testfs:///abs/path``.

It stores files in the local directory the path names (behind the scheme),
but it is not the local filesystem to our code (pipeline/append_files.py
checks the scheme), so the code paths for gs:// run offline. Importing this
module registers it with Beam's FileSystems.
"""

from __future__ import annotations

import os

from apache_beam.io.filesystem import FileMetadata
from apache_beam.io.localfilesystem import LocalFileSystem

PREFIX = "testfs://"


def local(path: str) -> str:
    return path[len(PREFIX):] if path.startswith(PREFIX) else path


class ChunkOnlyFileSystem(LocalFileSystem):
    @classmethod
    def scheme(cls):
        return "testfs"

    def join(self, basepath, *paths):
        return PREFIX + super().join(local(basepath), *paths)

    def split(self, path):
        head, tail = super().split(local(path))
        return PREFIX + head, tail

    def _list(self, dir_or_prefix):
        for dirpath, _, files in os.walk(local(dir_or_prefix)):
            for name in files:
                path = os.path.join(dirpath, name)
                yield FileMetadata(PREFIX + path, os.path.getsize(path), os.path.getmtime(path))

    def create(self, path, *args, **kwargs):
        return super().create(local(path), *args, **kwargs)

    def open(self, path, *args, **kwargs):
        return super().open(local(path), *args, **kwargs)

    def exists(self, path):
        return os.path.exists(local(path))

    def delete(self, paths):
        return super().delete([local(p) for p in paths])
