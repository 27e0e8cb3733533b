"""tf.io.gfile: the lower-case names TF 1.15 and 2.x give tf.gfile's functions (same code:
nanotf/platform/gfile.py)."""
from nanotf.platform.gfile import (Copy as copy, DeleteRecursively as rmtree, Exists as exists, GFile,  # noqa: F401
                                   Glob as glob, IsDirectory as isdir, ListDirectory as listdir,
                                   MakeDirs as makedirs, MkDir as mkdir, Remove as remove, Rename as rename,
                                   Stat as stat, Walk as walk)

__all__ = ["copy", "exists", "GFile", "glob", "isdir", "listdir", "makedirs", "mkdir", "remove", "rename", "rmtree",
           "stat", "walk"]
