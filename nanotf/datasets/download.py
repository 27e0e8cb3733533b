"""Streamed, atomic, verified downloads with mirror fallback (stdlib only).

A download goes to a hidden temporary file in the destination directory
(``.<name>.<random>.part``).  Only after the whole body has arrived and the
caller's ``verify`` callback has accepted it is the temporary file moved onto
the final name with ``os.replace`` -- so a failed, interrupted or corrupt
download never leaves a file under the final name, and a left-over ``.part``
file is never mistaken for the real one (lookups only ever use exact names).
"""

import os
import sys
import time

__all__ = ['DownloadError', 'DEFAULT_TIMEOUT', 'download_with_fallback',
           'maybe_download', 'url_for']

#: Seconds to wait when connecting and for each read from the socket.
DEFAULT_TIMEOUT = 30.0
_CHUNK = 1 << 16
_USER_AGENT = 'nanotf-datasets/1.0 (python urllib)'


class DownloadError(OSError):
    """No mirror could deliver a valid copy of a file.

    ``attempts`` is a list of ``(url, reason)`` pairs, in the order tried.
    """

    def __init__(self, message, attempts=()):
        super().__init__(message)
        self.attempts = list(attempts)

    def __str__(self):
        return self.args[0] if self.args else ''


def url_for(base_or_url, filename):
    """``base/`` + filename for a base URL (ending in '/'), else the URL itself."""
    if base_or_url.endswith('/'):
        return base_or_url + filename
    return base_or_url


def open_temp(directory, name):
    """``(file, path)``: a new hidden ``.<name>.<random>.part`` file.

    Created like any new file (mode 0o666 less the umask, unlike
    ``tempfile.mkstemp``'s 0o600), so the file moved into place gets the
    permissions of a normal download.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, 'O_BINARY', 0)
    for _ in range(100):
        path = os.path.join(directory, '.%s.%s.part'
                            % (name, os.urandom(6).hex()))
        try:
            fd = os.open(path, flags, 0o666)
        except FileExistsError:
            continue
        return os.fdopen(fd, 'wb'), path
    raise FileExistsError('no free temporary name for %s in %s'
                          % (name, directory))


def _host_of(url):
    from urllib.parse import urlsplit
    parts = urlsplit(url)
    return '%s://%s' % (parts.scheme, parts.netloc)


class _Progress(object):
    """One-line progress display on stderr, only when stderr is a terminal."""

    def __init__(self, label, total, stream=None):
        self.stream = sys.stderr if stream is None else stream
        try:
            self.enabled = bool(self.stream.isatty())
        except Exception:  # closed / odd streams
            self.enabled = False
        self.label = label
        self.total = total
        self.start = time.monotonic()
        self.last = 0.0
        self.shown = False

    def update(self, done, final=False):
        if not self.enabled:
            return
        now = time.monotonic()
        if not final and now - self.last < 0.1:
            return
        self.last = now
        elapsed = max(now - self.start, 1e-6)
        speed = done / elapsed / 1e6
        if self.total:
            text = '%s: %5.1f%% %.1f/%.1f MB %.2f MB/s' % (
                self.label, 100.0 * done / self.total, done / 1e6,
                self.total / 1e6, speed)
        else:
            text = '%s: %.1f MB %.2f MB/s' % (self.label, done / 1e6, speed)
        self.stream.write('\r' + text + ' ' * 4)
        self.stream.flush()
        self.shown = True

    def close(self):
        if self.enabled and self.shown:
            self.stream.write('\n')
            self.stream.flush()


def _stream_to(url, open_dest, timeout, label):
    """Copy the body of ``url`` into the file ``open_dest()`` returns, called
    only once the server has answered (so nothing is created for a URL that
    cannot be reached); return the byte count."""
    import urllib.request
    request = urllib.request.Request(url, headers={'User-Agent': _USER_AGENT})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        length = response.headers.get('Content-Length')
        try:
            total = int(length) if length is not None else None
        except ValueError:
            total = None
        progress = _Progress(label, total)
        done = 0
        try:
            with open_dest() as fileobj:
                while True:
                    chunk = response.read(_CHUNK)
                    if not chunk:
                        break
                    fileobj.write(chunk)
                    done += len(chunk)
                    progress.update(done)
            progress.update(done, final=True)
        finally:
            progress.close()
    if total is not None and done != total:
        raise IOError('connection closed after %d of %d bytes' % (done, total))
    return done


def _describe(exc):
    import urllib.error
    if isinstance(exc, urllib.error.HTTPError):
        return 'HTTP %d %s' % (exc.code, exc.reason)
    if isinstance(exc, urllib.error.URLError):
        return 'cannot connect (%s)' % (exc.reason,)
    text = str(exc) or type(exc).__name__
    return '%s: %s' % (type(exc).__name__, text)


def _is_unreachable(exc):
    """Connection-level failure (DNS, refused, timeout): the host is down."""
    import socket
    import urllib.error
    if isinstance(exc, urllib.error.HTTPError):
        return False
    if isinstance(exc, urllib.error.URLError):
        return True
    return isinstance(exc, (socket.timeout, ConnectionRefusedError,
                            socket.gaierror))


def download_with_fallback(urls, dest_path, verify=None, timeout=None,
                           unreachable=None, quiet=False):
    """Fetch ``dest_path`` from the first of ``urls`` that delivers a valid file.

    Args:
      urls: full URLs, tried in order.
      dest_path: final path; its directory is created when a server answers
        (and removed again if it stays empty).
      verify: optional ``verify(tmp_path)`` called on the complete temporary
        file; it raises (any Exception) to reject the file, which moves on to
        the next URL.  Its return value is returned.
      timeout: socket timeout in seconds (default ``DEFAULT_TIMEOUT``).
      unreachable: optional dict ``{host: reason}`` shared between calls:
        hosts that failed to connect are skipped afterwards (this keeps an
        offline machine from waiting for every timeout four times).
      quiet: no "Successfully downloaded" line.

    Returns:
      ``(url, verify_result)``.

    Raises:
      DownloadError listing every URL and why it failed.  KeyboardInterrupt
      and other BaseExceptions propagate (after the temp file is removed).
    """
    timeout = DEFAULT_TIMEOUT if timeout is None else timeout
    if unreachable is None:
        unreachable = {}
    dest_path = os.fspath(dest_path)
    directory = os.path.dirname(os.path.abspath(dest_path))
    name = os.path.basename(dest_path)
    # The directory is created only when a server answers, and removed again
    # (with any parent made for it) if nothing ends up in it.
    created = missing_dirs(directory)
    attempts = []
    try:
        for url in urls:
            host = _host_of(url)
            if host in unreachable:
                attempts.append((url, 'not tried: host unreachable (%s)'
                                 % unreachable[host]))
                continue
            temp = []

            def open_dest():
                os.makedirs(directory, exist_ok=True)
                out, path = open_temp(directory, name)
                temp.append(path)
                return out

            try:
                try:
                    size = _stream_to(url, open_dest, timeout, name)
                except Exception as exc:  # network / HTTP / short body
                    reason = _describe(exc)
                    if _is_unreachable(exc):
                        unreachable[host] = reason
                    attempts.append((url, reason))
                    continue
                try:
                    result = verify(temp[0]) if verify is not None else None
                except Exception as exc:
                    attempts.append((url, 'rejected: %s' % (exc,)))
                    continue
                os.replace(temp.pop(), dest_path)
                if not quiet:
                    print('Successfully downloaded', name, size, 'bytes.')
                return url, result
            finally:
                for path in temp:
                    try:
                        os.unlink(path)
                    except OSError:
                        pass
    finally:
        remove_empty_dirs(created)
    lines = ['Could not download %s to %s:' % (name, directory)]
    lines += ['  %s: %s' % (u, r) for u, r in attempts]
    if not attempts:
        lines.append('  (no URL given)')
    raise DownloadError('\n'.join(lines), attempts)


def missing_dirs(directory):
    """The directories ``os.makedirs(directory)`` would create, outermost
    first."""
    missing = []
    head = os.path.abspath(directory)
    while not os.path.exists(head):
        missing.append(head)
        parent = os.path.dirname(head)
        if parent == head:
            break
        head = parent
    return missing[::-1]


def remove_empty_dirs(dirs):
    """Removes those of ``dirs`` (outermost first) that are empty, innermost
    first; a directory with anything in it stays."""
    for d in reversed(dirs):
        try:
            os.rmdir(d)
        except OSError:
            pass


def maybe_download(filename, work_directory, source_url, sha256=None,
                   timeout=None):
    """Download ``filename`` into ``work_directory`` unless it is already there.

    TensorFlow's ``base.maybe_download(filename, work_directory, source_url)``:
    ``source_url`` is the file's URL (or a list of URLs tried in order; an
    entry ending in '/' is a base URL the file name is appended to).  With
    ``sha256`` the downloaded bytes (as stored, not decompressed) must have
    that SHA-256.  Returns the local path.  An existing file is returned
    unchecked, as TensorFlow does.
    """
    work_directory = os.fspath(work_directory)
    filepath = os.path.join(work_directory, filename)
    if os.path.exists(filepath):
        return filepath
    if isinstance(source_url, (str, bytes, os.PathLike)):
        source_url = [os.fsdecode(source_url)]
    urls = [url_for(u, filename) for u in source_url]

    verify = None
    if sha256 is not None:
        import hashlib

        def verify(path):
            digest = hashlib.sha256()
            with open(path, 'rb') as f:
                for block in iter(lambda: f.read(1 << 20), b''):
                    digest.update(block)
            if digest.hexdigest() != sha256.lower():
                raise ValueError('SHA-256 %s, expected %s'
                                 % (digest.hexdigest(), sha256))

    download_with_fallback(urls, filepath, verify=verify, timeout=timeout)
    return filepath
