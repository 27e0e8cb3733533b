"""tf.gfile on the local filesystem, with TensorFlow's names and its typed errors.

Failures raise nanotf.errors classes the way TF's file API does: a missing path is NotFoundError,
an existing target is AlreadyExistsError, a file where a directory is needed (or the reverse) is
FailedPreconditionError, no permission is PermissionDeniedError. Paths may be str, bytes or
os.PathLike.
"""
import errno
import os

from nanotf.framework import errors

__all__ = [
    "Copy", "DeleteRecursively", "Exists", "FastGFile", "FileStatistics", "GFile", "Glob",
    "IsDirectory", "ListDirectory", "MakeDirs", "MkDir", "Mkdir", "Open", "Remove", "Rename", "Stat",
    "Walk",
]

_ERRNO_ERRORS = {
    errno.ENOENT: errors.NotFoundError,
    errno.EEXIST: errors.AlreadyExistsError,
    errno.EACCES: errors.PermissionDeniedError,
    errno.EPERM: errors.PermissionDeniedError,
    errno.ENOTDIR: errors.FailedPreconditionError,
    errno.EISDIR: errors.FailedPreconditionError,
    errno.ENOTEMPTY: errors.FailedPreconditionError,
    errno.ENOSPC: errors.ResourceExhaustedError,
}


def _path(name):
    name = os.fspath(name)
    return name.decode("utf-8") if isinstance(name, bytes) else name


def _error_from(exc, path):
    """The tf.errors class for an OSError, with TF's '<path>; <reason>' message."""
    cls = _ERRNO_ERRORS.get(exc.errno, errors.UnknownError)
    return cls(None, None, "%s; %s" % (path, exc.strerror or exc))


def _os_call(fn, path, **kwargs):
    """fn(path, **kwargs), an OSError turned into the tf.errors class it stands for."""
    try:
        return fn(path, **kwargs)
    except OSError as exc:
        raise _error_from(exc, path) from None


def Exists(filename):
    """True if filename (a file or a directory) exists."""
    return os.path.exists(_path(filename))


def IsDirectory(dirname):
    """True if dirname exists and is a directory."""
    return os.path.isdir(_path(dirname))


def MkDir(dirname):
    """Creates one directory; its parent must exist (NotFoundError) and it must not (AlreadyExistsError)."""
    _os_call(os.mkdir, _path(dirname))


Mkdir = MkDir


def MakeDirs(dirname):
    """Creates dirname and any missing parents; nothing to do if it is already a directory."""
    dirname = _path(dirname)
    if os.path.isdir(dirname):
        return
    if os.path.exists(dirname):
        raise errors.FailedPreconditionError(None, None, "%s exists and is not a directory" % dirname)
    _os_call(os.makedirs, dirname, exist_ok=True)


def Remove(filename):
    """Deletes a file (NotFoundError if it is missing; FailedPreconditionError for a directory)."""
    _os_call(os.remove, _path(filename))


def DeleteRecursively(dirname):
    """Deletes a directory tree (or a single file); NotFoundError if nothing is there."""
    import shutil  # only paid for by programs that delete trees
    dirname = _path(dirname)
    if not os.path.lexists(dirname):
        raise errors.NotFoundError(None, None, "%s; No such file or directory" % dirname)
    try:
        if os.path.isdir(dirname) and not os.path.islink(dirname):
            shutil.rmtree(dirname)
        else:
            os.remove(dirname)
    except OSError as exc:
        raise _error_from(exc, getattr(exc, "filename", None) or dirname) from None


def _refuse_existing(target, overwrite):
    if not overwrite and os.path.lexists(target):
        raise errors.AlreadyExistsError(None, None, "%s; File already exists" % target)


def _source_and_target(source, target, overwrite, source_exists):
    """The two paths of a rename or copy, once the source is known to exist and the target may be written."""
    source, target = _path(source), _path(target)
    if not source_exists(source):
        raise errors.NotFoundError(None, None, "%s; No such file or directory" % source)
    _refuse_existing(target, overwrite)
    return source, target


def Rename(oldname, newname, overwrite=False):
    """Moves oldname to newname; AlreadyExistsError if newname exists and not overwrite."""
    oldname, newname = _source_and_target(oldname, newname, overwrite, os.path.lexists)
    try:
        os.replace(oldname, newname)
    except OSError as exc:
        raise _error_from(exc, newname) from None


def Copy(oldpath, newpath, overwrite=False):
    """Copies a file's contents; AlreadyExistsError if newpath exists and not overwrite."""
    import shutil
    oldpath, newpath = _source_and_target(oldpath, newpath, overwrite, os.path.exists)
    try:
        shutil.copyfile(oldpath, newpath)
    except shutil.SameFileError:
        pass  # overwrite=True onto itself: the contents are already there
    except OSError as exc:
        raise _error_from(exc, getattr(exc, "filename", None) or newpath) from None


def Glob(filename):
    """Sorted paths matching a pattern (or any of a list of patterns); [] when nothing matches.

    As in TF, `*` also matches names that start with '.'.
    """
    import glob
    patterns = [filename] if isinstance(filename, (str, bytes, os.PathLike)) else list(filename)
    found = set()
    for pattern in patterns:
        pattern = _path(pattern)
        try:
            found.update(glob.glob(pattern, include_hidden=True))
        except TypeError:  # Python < 3.11 has no include_hidden
            found.update(glob.glob(pattern))
    return sorted(found)


def ListDirectory(dirname):
    """The sorted entry names of a directory (no '.' or '..'); NotFoundError if it is not one."""
    dirname = _path(dirname)
    if not os.path.isdir(dirname):
        raise errors.NotFoundError(None, None, "Could not find directory %s" % dirname)
    try:
        return sorted(os.listdir(dirname))
    except OSError as exc:
        raise _error_from(exc, dirname) from None


def Walk(top, in_order=True):
    """Yields (dirname, subdir_names, file_names) for top and every directory below it.

    in_order=True yields a directory before its subdirectories (and honours edits of the yielded
    subdir list); False yields it after them. A missing top yields nothing.
    """
    top = _path(top)
    try:
        names = ListDirectory(top)
    except errors.NotFoundError:
        return
    subdirs, files = [], []
    for name in names:
        (subdirs if os.path.isdir(os.path.join(top, name)) else files).append(name)
    here = (top, subdirs, files)
    if in_order:
        yield here
    for subdir in subdirs:
        yield from Walk(os.path.join(top, subdir), in_order)
    if not in_order:
        yield here


class FileStatistics:
    """What Stat returns: length (bytes), mtime_nsec, is_directory."""

    __slots__ = ("length", "mtime_nsec", "is_directory")

    def __init__(self, length, mtime_nsec, is_directory):
        self.length = length
        self.mtime_nsec = mtime_nsec
        self.is_directory = is_directory

    def __repr__(self):
        return "FileStatistics(length=%d, mtime_nsec=%d, is_directory=%s)" % (
            self.length, self.mtime_nsec, self.is_directory)


def Stat(filename):
    """FileStatistics of a path; NotFoundError if it is missing."""
    filename = _path(filename)
    try:
        st = os.stat(filename)
    except OSError as exc:
        raise _error_from(exc, filename) from None
    return FileStatistics(st.st_size, st.st_mtime_ns, os.path.isdir(filename))


_MODES = ("r", "w", "a", "rb", "wb", "ab", "r+", "w+", "a+", "r+b", "w+b", "a+b")


class GFile:
    """A file object with TF's GFile interface: GFile(name, mode='r').

    Text modes read and write str (UTF-8, no newline translation, as TF); binary modes ('b') bytes.
    write() takes either type in any mode, as TF's does. Read modes open on first use, so a missing
    file raises NotFoundError at the first read, as in TF; write and append modes open (and create
    the file) at once.
    """

    def __init__(self, name, mode="r"):
        if mode not in _MODES:
            raise errors.InvalidArgumentError(
                None, None, "GFile mode %r is not one of 'r', 'w', 'a', 'r+', 'w+', 'a+' (with optional 'b')"
                % (mode,))
        self._name = _path(name)
        self._mode = mode
        self._binary = "b" in mode
        self._readable = mode.startswith("r") or "+" in mode
        self._writable = not mode.startswith("r") or "+" in mode
        self._file = None
        self._closed = False
        if self._writable and not mode.startswith("r"):
            self._open()

    name = property(lambda self: self._name)
    mode = property(lambda self: self._mode)
    closed = property(lambda self: self._closed)

    def _open(self):
        if self._closed:
            raise ValueError("I/O operation on closed GFile %s" % self._name)
        if self._file is None:
            try:
                if self._binary:
                    self._file = open(self._name, self._mode)
                else:
                    self._file = open(self._name, self._mode, encoding="utf-8", newline="")
            except OSError as exc:
                raise _error_from(exc, self._name) from None
        return self._file

    def _for_reading(self):
        if not self._readable:
            raise errors.PermissionDeniedError(None, None, "File %s isn't open for reading" % self._name)
        return self._open()

    def _for_writing(self):
        if not self._writable:
            raise errors.PermissionDeniedError(None, None, "File %s isn't open for writing" % self._name)
        return self._open()

    def _io(self, call, *args):
        try:
            return call(*args)
        except OSError as exc:
            raise _error_from(exc, self._name) from None

    def read(self, n=-1):
        """Up to n bytes (binary) or characters (text); everything that is left when n < 0."""
        f = self._for_reading()
        return self._io(f.read, -1 if n is None else n)

    def readline(self):
        """The next line including its '\\n'; empty at end of file."""
        return self._io(self._for_reading().readline)

    def readlines(self):
        return self._io(self._for_reading().readlines)

    def __iter__(self):
        return self

    def __next__(self):
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    next = __next__

    def write(self, file_content):
        f = self._for_writing()
        if self._binary and isinstance(file_content, str):
            file_content = file_content.encode("utf-8")
        elif not self._binary and isinstance(file_content, (bytes, bytearray)):
            file_content = bytes(file_content).decode("utf-8")
        self._io(f.write, file_content)

    def seek(self, offset=None, whence=0, position=None):
        """Moves to offset (from the start, whence=0; current position, 1; end, 2).
        `position` is TF's deprecated name for offset."""
        if position is not None:
            offset = position
        if offset is None:
            raise TypeError("GFile.seek() needs an offset")
        f = self._open()
        if not self._binary and (whence != 0 or offset != 0):
            # Text files only seek to absolute positions; compute one (tell() is a byte offset
            # for UTF-8 files opened without newline translation).
            if whence == 1:
                offset, whence = self._io(f.tell) + offset, 0
            elif whence == 2:
                offset, whence = self.size() + offset, 0
        return self._io(f.seek, offset, whence)

    def tell(self):
        return self._io(self._open().tell)

    def size(self):
        """The file's length in bytes (what is written so far included)."""
        if self._file is not None and self._writable:
            self._io(self._file.flush)
        return Stat(self._name).length

    def seekable(self):
        return True

    def flush(self):
        if self._file is not None and self._writable:
            self._io(self._file.flush)

    def close(self):
        if self._file is not None:
            try:
                self._io(self._file.close)
            finally:
                self._file = None
        self._closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def __del__(self):
        if getattr(self, "_file", None) is not None:
            self._file.close()

    def __repr__(self):
        return "<nanotf GFile %r mode %r%s>" % (self._name, self._mode, " (closed)" if self._closed else "")


Open = GFile
FastGFile = GFile
