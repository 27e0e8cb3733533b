"""tf.logging on the standard library logger 'nanotf' (TensorFlow's is 'tensorflow').

As in TF 1.x: the logger is set up on first use; when the root logger has no handlers yet (the
program did not configure logging itself) it gets a stderr handler printing
`LEVEL:nanotf:message` (logging.BASIC_FORMAT), otherwise records just propagate to the program's
handlers. The verbosity is the logger's level; left unset it follows the root logger, whose
default is WARNING, so info() prints nothing until set_verbosity(INFO).
nanotf's own modules log to children of this logger ('nanotf.training.saver', ...), so
set_verbosity governs them too.
"""
import logging as _logging
import sys as _sys
import threading as _threading

__all__ = [
    "DEBUG", "ERROR", "FATAL", "INFO", "WARN", "WARNING",
    "TaskLevelStatusMessage", "debug", "error", "fatal", "flush", "get_verbosity", "info", "log",
    "log_every_n", "log_first_n", "log_if", "set_verbosity", "vlog", "warn", "warning",
]

DEBUG = _logging.DEBUG      # 10
INFO = _logging.INFO        # 20
WARN = _logging.WARN        # 30
WARNING = _logging.WARNING  # 30
ERROR = _logging.ERROR      # 40
FATAL = _logging.FATAL      # 50

_logger = None
_logger_lock = _threading.Lock()
_log_counts = {}            # (file, line) of a log_every_n / log_first_n call -> calls so far


class _StderrHandler(_logging.StreamHandler):
    """Writes to whatever sys.stderr is at emit time (so redirections made later are honoured)."""

    def __init__(self):
        _logging.Handler.__init__(self)

    @property
    def stream(self):
        return _sys.stderr


def _get_logger():
    global _logger
    if _logger is not None:
        return _logger
    with _logger_lock:
        if _logger is None:
            logger = _logging.getLogger("nanotf")
            already = any(isinstance(h, _StderrHandler) for h in logger.handlers)
            # A program that configured logging (basicConfig...) gets the records through its own
            # handlers; adding ours too would print everything twice.
            if not already and not _logging.getLogger().handlers:
                handler = _StderrHandler()
                handler.setFormatter(_logging.Formatter(_logging.BASIC_FORMAT, None))
                logger.addHandler(handler)
            _logger = logger
    return _logger


# stacklevel=2 makes each record name the caller of these functions (its file and line), not them.

def log(level, msg, *args, **kwargs):
    _get_logger().log(level, msg, *args, stacklevel=2, **kwargs)


vlog = log


def _logs_at(level, name, doc=None):
    """The tf.logging function `name`(msg, *args) that logs at `level`."""
    def log_at_level(msg, *args, **kwargs):
        _get_logger().log(level, msg, *args, stacklevel=2, **kwargs)
    log_at_level.__name__ = log_at_level.__qualname__ = name
    log_at_level.__doc__ = doc
    return log_at_level


debug = _logs_at(DEBUG, "debug")
info = _logs_at(INFO, "info")
warning = _logs_at(WARNING, "warning")
warn = _logs_at(WARN, "warn")
error = _logs_at(ERROR, "error")
fatal = _logs_at(FATAL, "fatal", "Logs at FATAL (50). Like TF's, it does not stop the program.")


def log_if(level, msg, condition, *args):
    """Logs only when condition is true."""
    if condition:
        _get_logger().log(level, msg, *args, stacklevel=2)


def _count_call_site():
    """How many times the caller's caller (a log_every_n/log_first_n line) got here before."""
    frame = _sys._getframe(2)
    key = (frame.f_code.co_filename, frame.f_lineno)
    with _logger_lock:
        count = _log_counts.get(key, 0)
        _log_counts[key] = count + 1
    return count


def log_every_n(level, msg, n, *args):
    """Logs on the 1st, (n+1)th, (2n+1)th... call from the same source line."""
    if n < 1:
        raise ValueError("log_every_n needs n >= 1, got %r" % (n,))
    if _count_call_site() % n == 0:
        _get_logger().log(level, msg, *args, stacklevel=2)


def log_first_n(level, msg, n, *args):
    """Logs only the first n calls from the same source line."""
    if _count_call_site() < n:
        _get_logger().log(level, msg, *args, stacklevel=2)


def TaskLevelStatusMessage(msg):
    _get_logger().log(ERROR, msg, stacklevel=2)


def flush():
    for handler in _get_logger().handlers:
        handler.flush()


def get_verbosity():
    """The threshold below which messages are dropped (the logger's effective level)."""
    return _get_logger().getEffectiveLevel()


def set_verbosity(v):
    """Drops messages below level v (DEBUG, INFO, WARN, ERROR, FATAL or any int)."""
    _get_logger().setLevel(v)
