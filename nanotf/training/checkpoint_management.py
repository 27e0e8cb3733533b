"""Checkpoint bookkeeping: the `checkpoint` state file, checkpoint prefixes and their data files.

A checkpoint is named by its *prefix* (`train/model.ckpt-1999`), as in TensorFlow. nanotf keeps the
values of one checkpoint in a single safetensors file `<prefix>.safetensors` (TensorFlow writes
`<prefix>.index` + `<prefix>.data-00000-of-00001`; nanotf does not read or write those).

The state file `<dir>/checkpoint` is TensorFlow's protobuf text format of `CheckpointState`:

    model_checkpoint_path: "model.ckpt-1999"
    all_model_checkpoint_paths: "model.ckpt-999"
    all_model_checkpoint_paths: "model.ckpt-1999"

Saver.save lists its checkpoints relative to the state file's folder (TensorFlow does so only with
save_relative_paths=True), so a run directory can be moved or copied and still resumed. Reading, an
absolute path whose data file is gone falls back to the file of the same name beside the state file:
state files written with absolute paths (by TensorFlow, or by update_checkpoint_state) survive a move too.

Every file is written to a temporary name in the same directory, fsynced, then renamed over the
final name, so a reader (or a crash) never sees half a file under a final name.
"""
import logging
import math
import os
import re
import uuid

__all__ = ["CheckpointState", "generate_checkpoint_state_proto", "update_checkpoint_state",
           "get_checkpoint_state", "latest_checkpoint", "checkpoint_exists", "get_checkpoint_mtimes",
           "remove_checkpoint"]

DATA_SUFFIX = ".safetensors"
_DEFAULT_STATE_FILENAME = "checkpoint"
_log = logging.getLogger(__name__)


# -- atomic writes
def write_atomically(path, write):
    """Calls `write(tmp_path)`, fsyncs the result and renames it to `path`; removes the temp file on failure.

    The temp name follows TensorFlow's `atomic_write_string_to_file` (`path + ".tmp" + uuid`), in the
    same directory so that the rename stays on one file system and is atomic."""
    tmp = "%s.tmp%s" % (path, uuid.uuid4().hex)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())   # as a plain open() would create it (some writers use 0600)
        fd = os.open(tmp, os.O_RDWR | getattr(os, "O_BINARY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise
    _fsync_directory(os.path.dirname(path))


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_directory(directory):
    """Makes the rename itself durable (POSIX only; Windows cannot open a directory)."""
    if os.name != "posix":
        return
    try:
        fd = os.open(directory or ".", os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_text(path, text):
    def write(tmp):
        with open(tmp, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
    write_atomically(path, write)


# -- CheckpointState and its protobuf text format
class CheckpointState:
    """tf.train.CheckpointState: the contents of the `checkpoint` state file."""

    def __init__(self, model_checkpoint_path="", all_model_checkpoint_paths=(),
                 all_model_checkpoint_timestamps=(), last_preserved_timestamp=0.0):
        self.model_checkpoint_path = model_checkpoint_path
        self.all_model_checkpoint_paths = list(all_model_checkpoint_paths)
        self.all_model_checkpoint_timestamps = list(all_model_checkpoint_timestamps)
        self.last_preserved_timestamp = last_preserved_timestamp

    def __eq__(self, other):
        return isinstance(other, CheckpointState) and vars(self) == vars(other)

    def __repr__(self):
        return "CheckpointState(%s)" % ", ".join("%s=%r" % kv for kv in vars(self).items())

    def __str__(self):
        return to_text(self)


_STRING_FIELDS = ("model_checkpoint_path", "all_model_checkpoint_paths")
_REPEATED_FIELDS = ("all_model_checkpoint_paths", "all_model_checkpoint_timestamps")
_FIELD_ORDER = ("model_checkpoint_path", "all_model_checkpoint_paths", "all_model_checkpoint_timestamps",
                "last_preserved_timestamp")


def _escape(s):
    """Protobuf text-format string escaping (C escapes; bytes outside printable ASCII as octal)."""
    out = []
    for b in s.encode("utf-8"):
        c = chr(b)
        if c in _ESCAPES:
            out.append(_ESCAPES[c])
        elif 0x20 <= b < 0x7f:
            out.append(c)
        else:
            out.append("\\%03o" % b)
    return "".join(out)


_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", '"': '\\"', "'": "\\'", "\\": "\\\\"}
_UNESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b'"': b'"', b"'": b"'", b"\\": b"\\", b"a": b"\a",
              b"b": b"\b", b"f": b"\f", b"v": b"\v", b"?": b"?"}
_ESCAPE_SEQ = re.compile(rb"\\([0-7]{1,3}|x[0-9A-Fa-f]{1,2}|.)", re.S)


def _unescape(body):
    def one(m):
        seq = m.group(1)
        if seq[:1].isdigit():
            return bytes([int(seq, 8) & 0xFF])
        if seq[:1] == b"x":
            return bytes([int(seq[1:], 16)])
        if seq in _UNESCAPES:
            return _UNESCAPES[seq]
        raise ValueError("invalid escape sequence \\%s" % seq.decode("latin-1"))
    return _ESCAPE_SEQ.sub(one, body.encode("utf-8")).decode("utf-8")


def _format_double(x):
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return repr(float(x))


def to_text(state):
    """The text TensorFlow's `text_format.MessageToString` writes for a CheckpointState (unset fields omitted)."""
    lines = []
    if state.model_checkpoint_path:
        lines.append('model_checkpoint_path: "%s"' % _escape(state.model_checkpoint_path))
    lines.extend('all_model_checkpoint_paths: "%s"' % _escape(p) for p in state.all_model_checkpoint_paths)
    lines.extend("all_model_checkpoint_timestamps: %s" % _format_double(t)
                 for t in state.all_model_checkpoint_timestamps)
    if state.last_preserved_timestamp:
        lines.append("last_preserved_timestamp: %s" % _format_double(state.last_preserved_timestamp))
    return "".join(line + "\n" for line in lines)


class ParseError(ValueError):
    """The state file is not a CheckpointState in protobuf text format."""


_TOKEN = re.compile(r"""(?:\s|\#[^\n]*(?:\n|\Z))*(\w+)\s*:\s*("(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|[^\s"'#]+)""")
_TRAILER = re.compile(r"(?:\s|\#[^\n]*(?:\n|\Z))*\Z")


def parse_text(text):
    """Parses the protobuf text format of a CheckpointState (as `text_format.Merge`: a repeated singular
    field keeps its last value). Raises ParseError naming the line of anything else."""
    state = CheckpointState()
    pos = 0
    while not _TRAILER.match(text, pos):
        m = _TOKEN.match(text, pos)
        line = text.count("\n", 0, pos) + 1
        if m is None:
            raise ParseError("%d: expected 'field: value', got %r" % (line, text[pos:pos + 40].strip()))
        field, raw = m.group(1), m.group(2)
        if field not in _FIELD_ORDER:
            raise ParseError('%d: Message type "tensorflow.CheckpointState" has no field named "%s".' % (line, field))
        if field in _STRING_FIELDS:
            if raw[:1] not in "\"'":
                raise ParseError("%d: field %s expects a quoted string, got %s" % (line, field, raw))
            try:
                value = _unescape(raw[1:-1])
            except (ValueError, UnicodeDecodeError) as e:
                raise ParseError("%d: %s" % (line, e)) from None
        else:
            try:
                value = float(raw)
            except ValueError:
                raise ParseError("%d: field %s expects a number, got %s" % (line, field, raw)) from None
        if field in _REPEATED_FIELDS:
            getattr(state, field).append(value)
        else:
            setattr(state, field, value)
        pos = m.end()
    return state


# -- the state file
def _state_filename(save_dir, latest_filename):
    return os.path.join(save_dir, latest_filename or _DEFAULT_STATE_FILENAME)


def generate_checkpoint_state_proto(save_dir, model_checkpoint_path, all_model_checkpoint_paths=None,
                                    all_model_checkpoint_timestamps=None, last_preserved_timestamp=None):
    """A CheckpointState whose list ends with `model_checkpoint_path`. As in TensorFlow, when `save_dir`
    is relative, relative paths are rewritten relative to `save_dir` (absolute ones stay absolute)."""
    paths = list(all_model_checkpoint_paths or [])
    if not paths or paths[-1] != model_checkpoint_path:
        paths.append(model_checkpoint_path)
    timestamps = list(all_model_checkpoint_timestamps or [])
    if timestamps and len(timestamps) != len(paths):
        raise ValueError("Checkpoint timestamps, if provided, must match checkpoint paths (got paths %r and "
                         "timestamps %r)" % (paths, timestamps))
    if not os.path.isabs(save_dir):
        if not os.path.isabs(model_checkpoint_path):
            model_checkpoint_path = os.path.relpath(model_checkpoint_path, save_dir)
        paths = [p if os.path.isabs(p) else os.path.relpath(p, save_dir) for p in paths]
    return CheckpointState(model_checkpoint_path, paths, timestamps, last_preserved_timestamp or 0.0)


def update_checkpoint_state(save_dir, model_checkpoint_path, all_model_checkpoint_paths=None,
                            latest_filename=None, all_model_checkpoint_timestamps=None,
                            last_preserved_timestamp=None, save_relative_paths=False):
    """Atomically (re)writes `<save_dir>/<latest_filename or 'checkpoint'>` naming the latest checkpoint.
    With save_relative_paths, absolute paths inside save_dir are written relative to it (paths elsewhere
    stay as they are)."""
    if latest_filename and os.path.split(latest_filename)[0]:
        raise ValueError("'latest_filename' must not contain path components")
    state_path = _state_filename(save_dir, latest_filename)
    paths = list(all_model_checkpoint_paths or [])
    if save_relative_paths:
        def rel(p):
            return _relative_inside(p, save_dir) if os.path.isabs(p) else p
        model_checkpoint_path, paths = rel(model_checkpoint_path), [rel(p) for p in paths]
    state = generate_checkpoint_state_proto(save_dir, model_checkpoint_path, paths,
                                            all_model_checkpoint_timestamps, last_preserved_timestamp)
    if state_path == state.model_checkpoint_path:
        raise RuntimeError("Save path '%s' conflicts with path used for checkpoint state.  Please use a "
                           "different save path." % model_checkpoint_path)
    _write_text(state_path, to_text(state))


def _relative_inside(path, directory):
    """`path` relative to `directory` when it lies inside it, else `path` unchanged."""
    directory = os.path.abspath(directory or ".")
    try:
        if os.path.commonpath([os.path.abspath(path), directory]) == directory:
            return os.path.relpath(os.path.abspath(path), directory)
    except ValueError:   # different drives on Windows
        pass
    return path


def get_checkpoint_state(checkpoint_dir, latest_filename=None):
    """The CheckpointState in `checkpoint_dir` with relative paths joined to the directory, or None when
    there is no state file (or it cannot be read or parsed: then a warning is logged, as TensorFlow does)."""
    state_path = _state_filename(checkpoint_dir, latest_filename)
    if not os.path.isfile(state_path):
        return None
    try:
        with open(state_path, "r", encoding="utf-8") as f:
            state = parse_text(f.read())
    except (OSError, UnicodeDecodeError, ParseError) as e:
        _log.warning("%s: %s", type(e).__name__, e)
        _log.warning("%s: Checkpoint ignored", state_path)
        return None
    if not state.model_checkpoint_path:
        raise ValueError("Invalid checkpoint state loaded from " + checkpoint_dir)
    state.model_checkpoint_path = _usable_path(checkpoint_dir, state.model_checkpoint_path)
    state.all_model_checkpoint_paths = [_usable_path(checkpoint_dir, p) for p in state.all_model_checkpoint_paths]
    return state


def _usable_path(checkpoint_dir, path):
    """A listed checkpoint path as a reader can use it: relative ones joined to the state file's folder; an
    absolute one whose data file is gone replaced by the checkpoint of that name in the folder, if there is
    one (the run directory was moved; TensorFlow 1.x reports no checkpoint then)."""
    if not os.path.isabs(path):
        return os.path.join(checkpoint_dir, path)
    if not checkpoint_exists(path):
        beside = os.path.join(checkpoint_dir, os.path.basename(path))
        if checkpoint_exists(beside):
            return beside
    return path


def data_filename(prefix):
    """The file holding a checkpoint's values."""
    return prefix + DATA_SUFFIX


def checkpoint_exists(checkpoint_prefix):
    """True when the data file of the checkpoint `checkpoint_prefix` exists."""
    return os.path.isfile(data_filename(checkpoint_prefix))


def latest_checkpoint(checkpoint_dir, latest_filename=None):
    """The prefix of the newest checkpoint listed in `checkpoint_dir`'s state file, or None when there is
    none or its data file is gone."""
    state = get_checkpoint_state(checkpoint_dir, latest_filename)
    if state and state.model_checkpoint_path:
        if checkpoint_exists(state.model_checkpoint_path):
            return state.model_checkpoint_path
        _log.error("Couldn't match files for checkpoint %s", state.model_checkpoint_path)
    return None


def get_checkpoint_mtimes(checkpoint_prefixes):
    """Modification times of the data files of the given checkpoints; missing checkpoints are skipped."""
    mtimes = []
    for prefix in checkpoint_prefixes:
        try:
            mtimes.append(os.path.getmtime(data_filename(prefix)))
        except OSError:
            pass
    return mtimes


def remove_checkpoint(checkpoint_prefix, checkpoint_format_version=None, meta_graph_suffix="meta"):
    """Deletes a checkpoint's data file. (nanotf writes no `.meta` file, so it deletes none: one there
    would be somebody else's.)"""
    try:
        os.remove(data_filename(checkpoint_prefix))
    except FileNotFoundError:
        pass
