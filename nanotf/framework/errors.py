"""TensorFlow's error classes (tf.errors). Each names the op it came from when there is one."""

OK, CANCELLED, UNKNOWN, INVALID_ARGUMENT, DEADLINE_EXCEEDED, NOT_FOUND = 0, 1, 2, 3, 4, 5
ALREADY_EXISTS, PERMISSION_DENIED, RESOURCE_EXHAUSTED, FAILED_PRECONDITION = 6, 7, 8, 9
ABORTED, OUT_OF_RANGE, UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS = 10, 11, 12, 13, 14, 15
UNAUTHENTICATED = 16


class OpError(Exception):
    """An error raised while running a graph; `op` is the Operation that failed (or None)."""

    error_code = UNKNOWN

    def __init__(self, node_def, op, message, error_code=None):
        super().__init__(message)
        self._node_def = node_def
        self._op = op
        self._message = message
        if error_code is not None:
            self.error_code = error_code

    message = property(lambda self: self._message, doc="The error message.")
    op = property(lambda self: self._op, doc="The Operation that failed, or None.")
    node_def = property(lambda self: self._node_def)

    def __str__(self):
        if self._op is not None:
            return "%s\n\t [[node %s (op type: %s)]]" % (self._message, self._op.name, self._op.type)
        return self._message


def _make(name, code):
    def __init__(self, node_def, op, message, *args):
        OpError.__init__(self, node_def, op, message, code)
    cls = type(name, (OpError,), {"__init__": __init__, "error_code": code})
    return cls


CancelledError = _make("CancelledError", CANCELLED)
UnknownError = _make("UnknownError", UNKNOWN)
InvalidArgumentError = _make("InvalidArgumentError", INVALID_ARGUMENT)
DeadlineExceededError = _make("DeadlineExceededError", DEADLINE_EXCEEDED)
NotFoundError = _make("NotFoundError", NOT_FOUND)
AlreadyExistsError = _make("AlreadyExistsError", ALREADY_EXISTS)
PermissionDeniedError = _make("PermissionDeniedError", PERMISSION_DENIED)
ResourceExhaustedError = _make("ResourceExhaustedError", RESOURCE_EXHAUSTED)
FailedPreconditionError = _make("FailedPreconditionError", FAILED_PRECONDITION)
AbortedError = _make("AbortedError", ABORTED)
OutOfRangeError = _make("OutOfRangeError", OUT_OF_RANGE)
UnimplementedError = _make("UnimplementedError", UNIMPLEMENTED)
InternalError = _make("InternalError", INTERNAL)
UnavailableError = _make("UnavailableError", UNAVAILABLE)
DataLossError = _make("DataLossError", DATA_LOSS)
UnauthenticatedError = _make("UnauthenticatedError", UNAUTHENTICATED)


# Errors that TensorFlow's Python layer raises as ValueError / TypeError / RuntimeError. nanotf raises
# them as typed OpErrors that are *also* the builtin type, so both kinds of `except` keep working.
class InvalidFeedError(InvalidArgumentError, ValueError):
    """A feed whose shape does not fit, or a feed/fetch that is not an element of the graph."""


class InvalidFeedTypeError(InvalidArgumentError, TypeError):
    """A feed value that cannot be converted to the fed tensor's dtype."""


class ClosedSessionError(FailedPreconditionError, RuntimeError):
    """Session.run on a closed session."""
