"""tf.train.Saver: saves variables to checkpoint files and restores them.

    saver = tf.train.Saver()                                  # every global variable
    path = saver.save(sess, "train/model.ckpt", global_step=step)   # -> "train/model.ckpt-<step>"
    saver.restore(sess, tf.train.latest_checkpoint("train"))

Files (see checkpoint_management.py): the values of one checkpoint go to `<prefix>.safetensors`
(safetensors format: a JSON header then raw little-endian tensors; no pickle, no code), keyed by
`var.op.name`, with `__metadata__` {"format": "nanotf.checkpoint", "format_version": "1",
"global_step": "<step>"}. The `checkpoint` state file in `dirname(save_path)` is written last: it is
the commit point; it lists checkpoints relative to its own folder, so a run directory can be moved. A
failed write (a full disk) raises OSError and leaves the previous checkpoint and state file as they
were. No `.meta` file is written (`write_meta_graph` is accepted and ignored).

Construction adds a `save` name scope to the graph as TensorFlow does: `save/Const` (the filename)
and, per variable in name order, a placeholder `save/restore_value[_k]` feeding `save/Assign[_k]`,
all grouped by `save/restore_all`. `restore` feeds the loaded arrays into those placeholders, so
restoring creates no ops and counts as initializing the variables.
"""
import logging
import os
import re
import time

import numpy as np

from nanotf.client.session import BaseSession
from nanotf.framework import dtypes, errors
from nanotf.framework.ops import GraphKeys, Operation, Tensor
from nanotf.ops import array_ops, control_flow_ops, state_ops
from nanotf.training import checkpoint_management as cm
from nanotf.training.checkpoint_management import (CheckpointState, checkpoint_exists,
                                                   generate_checkpoint_state_proto, get_checkpoint_mtimes,
                                                   get_checkpoint_state, latest_checkpoint, remove_checkpoint,
                                                   update_checkpoint_state)


def _safetensors():
    """The safetensors package, imported on first save/restore so `import nanotf` stays fast."""
    import safetensors
    import safetensors.numpy  # noqa: F401
    return safetensors

__all__ = ["Saver", "SaverDef", "CheckpointState", "latest_checkpoint", "get_checkpoint_state",
           "update_checkpoint_state", "generate_checkpoint_state_proto", "checkpoint_exists",
           "get_checkpoint_mtimes", "remove_checkpoint"]

FORMAT_NAME = "nanotf.checkpoint"
FORMAT_VERSION = "1"
_SAVEABLE_OBJECTS = getattr(GraphKeys, "SAVEABLE_OBJECTS", "saveable_objects")
_log = logging.getLogger(__name__)


class SaverDef:
    """tf.train.SaverDef: names of a Saver's graph elements and its retention settings."""

    LEGACY, V1, V2 = 0, 1, 2

    def __init__(self, filename_tensor_name="", save_tensor_name="", restore_op_name="", max_to_keep=0,
                 sharded=False, keep_checkpoint_every_n_hours=0.0, version=V2):
        self.filename_tensor_name = filename_tensor_name
        self.save_tensor_name = save_tensor_name
        self.restore_op_name = restore_op_name
        self.max_to_keep = max_to_keep
        self.sharded = sharded
        self.keep_checkpoint_every_n_hours = keep_checkpoint_every_n_hours
        self.version = version

    def __repr__(self):
        return "SaverDef(%s)" % ", ".join("%s=%r" % kv for kv in vars(self).items())


class _CheckpointNotFoundError(errors.NotFoundError, ValueError):
    """A restore path with no checkpoint behind it. TensorFlow 1.x raised NotFoundError, later
    versions ValueError; this is both, so either `except` keeps working."""


def _variable_tensor(v):
    """The VariableV2 output behind a Variable (or a VariableV2 tensor / op), or None."""
    if hasattr(v, "_variable"):
        v = v._variable
    if isinstance(v, Operation) and v.type == "VariableV2":
        v = v.outputs[0]
    if isinstance(v, Tensor) and v.op.type == "VariableV2":
        return v
    return None


def _names_to_variables(var_list):
    """Checkpoint key -> VariableV2 tensor, sorted by key (TensorFlow's restore-op order)."""
    if isinstance(var_list, dict):
        items = list(var_list.items())
        for key, _ in items:
            if not isinstance(key, str):
                raise TypeError("Keys of var_list must be checkpoint names (str), got %r" % (key,))
    elif isinstance(var_list, (list, tuple, set, frozenset)):
        items = []
        for v in var_list:
            t = _variable_tensor(v)
            items.append((t.op.name if t is not None else None, v))
    else:
        raise TypeError("Variables to save should be passed in a dict or a list: %r" % (var_list,))
    out = {}
    for key, v in items:
        t = _variable_tensor(v)
        if t is None:
            raise TypeError("Variable to save is not a Variable: %r" % (v,))
        if key in out:
            if out[key] is t:
                continue
            raise ValueError("At least two variables have the same name: %s" % key)
        if t.dtype not in _SAFETENSORS_DTYPES:
            raise TypeError("Cannot checkpoint variable %s of dtype %s: the safetensors format holds %s only"
                            % (key, t.dtype.name, ", ".join(sorted(d.name for d in _SAFETENSORS_DTYPES))))
        out[key] = t
    return dict(sorted(out.items()))


_SAFETENSORS_DTYPES = frozenset([dtypes.float16, dtypes.float32, dtypes.float64, dtypes.int8, dtypes.int16,
                                 dtypes.int32, dtypes.int64, dtypes.uint8, dtypes.uint16, dtypes.bool])


class Saver:
    """Saves and restores variables (tf.train.Saver)."""

    def __init__(self, var_list=None, reshape=False, sharded=False, max_to_keep=5,
                 keep_checkpoint_every_n_hours=10000.0, name=None, restore_sequentially=False, saver_def=None,
                 builder=None, defer_build=False, allow_empty=False, write_version=SaverDef.V2,
                 pad_step_number=False, save_relative_paths=False, filename=None):
        if saver_def is not None:
            raise NotImplementedError("Saver(saver_def=...) (re-binding a saved MetaGraph's saver) is not "
                                      "supported by nanotf; build the Saver from var_list instead")
        if defer_build and var_list is not None:
            raise ValueError("If `var_list` is provided then build cannot be deferred. Either set "
                             "defer_build=False or var_list=None.")
        self._var_list = var_list
        self._reshape = reshape
        self._max_to_keep = max_to_keep
        self._keep_every_n_hours = keep_checkpoint_every_n_hours
        self._name = name
        self._allow_empty = allow_empty
        self._pad_step_number = pad_step_number
        self._save_relative_paths = save_relative_paths   # accepted; nanotf always writes relative paths
        self._filename = filename
        self._saver_def = SaverDef(max_to_keep=max_to_keep, sharded=bool(sharded),
                                   keep_checkpoint_every_n_hours=keep_checkpoint_every_n_hours,
                                   version=write_version)
        self._last_checkpoints = []          # [(prefix, time saved)], oldest first
        self._checkpoints_to_be_deleted = []
        self._next_checkpoint_time = time.time() + keep_checkpoint_every_n_hours * 3600
        self._is_built = False
        self._is_empty = False
        if not defer_build:
            self.build()

    # -- graph construction
    def build(self):
        """Collects the variables and adds the `save` scope to their graph (once)."""
        if self._is_built:
            return
        var_list = self._var_list
        if var_list is None:
            from nanotf.framework.ops import get_collection
            var_list = get_collection(GraphKeys.GLOBAL_VARIABLES) + get_collection(_SAVEABLE_OBJECTS)
        self._variables = _names_to_variables(var_list)
        self._is_built = True
        if not self._variables:
            if self._allow_empty:
                self._is_empty = True
                return
            raise ValueError("No variables to save")
        graphs = {t.graph for t in self._variables.values()}
        if len(graphs) > 1:
            raise ValueError("All variables of a Saver must be in one graph; got variables from %d graphs"
                             % len(graphs))
        self._graph = graph = graphs.pop()
        self._restore_feeds = []   # (checkpoint key, variable tensor, placeholder), in key order
        with graph.as_default(), graph.control_dependencies(None), graph.name_scope(self._name or "save"):
            from nanotf.ops.array_ops import constant
            filename = constant(self._filename or "model", dtype=dtypes.string, name="Const")
            assigns = []
            for key, var in self._variables.items():
                value = array_ops.placeholder(var.dtype, var.shape, name="restore_value")
                assigns.append(state_ops.assign(var, value, validate_shape=var.shape.is_fully_defined()))
                self._restore_feeds.append((key, var, value))
            restore_all = control_flow_ops.group(*assigns, name="restore_all")
        self._fetch_values = [var for _, var, _ in self._restore_feeds]
        self._restore_op = restore_all
        self._saver_def.filename_tensor_name = filename.name
        self._saver_def.restore_op_name = restore_all.name

    @property
    def saver_def(self):
        return self._saver_def

    def as_saver_def(self):
        return self._saver_def

    # -- retention
    @property
    def last_checkpoints(self):
        """Prefixes of the checkpoints this Saver still keeps, oldest first."""
        return [p for p, _ in self._last_checkpoints]

    def set_last_checkpoints(self, last_checkpoints):
        """Deprecated in TensorFlow: like set_last_checkpoints_with_time with no timestamps."""
        if not isinstance(last_checkpoints, list):
            raise TypeError("last_checkpoints must be a list, got %r" % (last_checkpoints,))
        self._last_checkpoints = [(p, None) for p in last_checkpoints]

    def set_last_checkpoints_with_time(self, last_checkpoints_with_time):
        """Sets the kept checkpoints as [(prefix, timestamp)], oldest first."""
        if not isinstance(last_checkpoints_with_time, list):
            raise TypeError("last_checkpoints_with_time must be a list, got %r" % (last_checkpoints_with_time,))
        self._last_checkpoints = [(p, t) for p, t in last_checkpoints_with_time]

    def recover_last_checkpoints(self, checkpoint_paths):
        """Adopts checkpoints written by an earlier run (e.g. `get_checkpoint_state(dir).all_model_checkpoint_paths`)
        so that this Saver goes on deleting them beyond max_to_keep; their file times become their timestamps.
        Paths whose data file is gone are dropped."""
        kept = []
        for p in checkpoint_paths:
            mtimes = get_checkpoint_mtimes([p])
            if mtimes:
                kept.append((p, mtimes[0]))
        self.set_last_checkpoints_with_time(kept)

    def _record_last_checkpoint(self, prefix):
        if not self._max_to_keep:
            return
        self._last_checkpoints = [(p, t) for p, t in self._last_checkpoints if p != prefix]
        self._last_checkpoints.append((prefix, time.time()))
        # TensorFlow pushes out one per save; trimming to max_to_keep also covers a recovered list
        # longer than max_to_keep (TF would keep that list's length forever).
        while len(self._last_checkpoints) > self._max_to_keep:
            self._checkpoints_to_be_deleted.append(self._last_checkpoints.pop(0))

    def _maybe_delete_old_checkpoints(self):
        while self._checkpoints_to_be_deleted:
            prefix, saved_at = self._checkpoints_to_be_deleted.pop(0)
            # keep_checkpoint_every_n_hours: keep one checkpoint per N hours of training for good.
            if saved_at is not None and saved_at > self._next_checkpoint_time:
                self._next_checkpoint_time += self._keep_every_n_hours * 3600
                continue
            try:
                remove_checkpoint(prefix)
            except OSError as e:
                _log.warning("Ignoring: %s", e)

    # -- save
    def save(self, sess, save_path, global_step=None, latest_filename=None, meta_graph_suffix="meta",
             write_meta_graph=True, write_state=True, strip_default_attrs=False, save_debug_info=False):
        """Writes the variables' values to `<prefix>.safetensors` and returns the prefix: `save_path`, or
        `save_path-<global_step>`. Then (write_state) rewrites the `checkpoint` state file in
        dirname(save_path) and deletes checkpoints beyond max_to_keep. Returns None for an empty Saver."""
        if not self._is_built:
            raise RuntimeError("`build()` should be called before save if defer_build==True")
        latest_filename = latest_filename or "checkpoint"
        if os.path.split(latest_filename)[0]:
            raise ValueError("'latest_filename' must not contain path components")
        save_path = os.fspath(save_path)
        if global_step is not None:
            step = self._global_step_value(sess, global_step)
            prefix = ("%s-%08d" if self._pad_step_number else "%s-%d") % (save_path, step)
        else:
            step = None
            prefix = save_path
            if os.path.basename(save_path) == latest_filename:
                raise ValueError("'latest_filename' collides with 'save_path': '%s' and '%s'"
                                 % (latest_filename, save_path))
        self._check_session(sess)
        save_dir = os.path.dirname(save_path)
        if save_dir and not os.path.isdir(save_dir):
            raise ValueError("Parent directory of {} doesn't exist, can't save.".format(save_path))
        if self._is_empty:
            return None
        values = sess.run(self._fetch_values)
        tensors = {key: _c_array(v) for key, v in zip(self._variables, values)}
        metadata = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION}
        if step is not None:
            metadata["global_step"] = str(step)
        data_file = cm.data_filename(prefix)
        existed = os.path.exists(data_file)
        cm.write_atomically(data_file, lambda tmp: _save_safetensors(tensors, tmp, metadata))
        if write_state:
            # Listed relative to the state file's folder, always, so that a moved run directory resumes
            # (TensorFlow writes absolute paths unless save_relative_paths=True).
            kept, pending = list(self._last_checkpoints), list(self._checkpoints_to_be_deleted)
            self._record_last_checkpoint(prefix)
            try:
                update_checkpoint_state(save_dir, prefix, self.last_checkpoints, latest_filename,
                                        save_relative_paths=True)
            except BaseException:
                # The state file still names the previous checkpoint: drop the new data file it does not
                # list (on a full disk that is the space the next try needs).
                self._last_checkpoints, self._checkpoints_to_be_deleted = kept, pending
                if not existed:
                    remove_checkpoint(prefix)
                raise
            self._maybe_delete_old_checkpoints()
        return prefix

    @staticmethod
    def _global_step_value(sess, global_step):
        if isinstance(global_step, (int, np.integer)) and not isinstance(global_step, bool):
            return int(global_step)
        if _variable_tensor(global_step) is not None or isinstance(global_step, Tensor):
            value = np.asarray(sess.run(global_step))
            if value.shape != () or value.dtype.kind not in "iu":
                raise TypeError("global_step %s must be an integer scalar, got %s of shape %s"
                                % (getattr(global_step, "name", global_step), value.dtype, value.shape))
            return int(value)
        raise TypeError("global_step must be an int, a Tensor or a Variable, got %r" % (global_step,))

    def _check_session(self, sess):
        if not isinstance(sess, BaseSession):
            raise TypeError("'sess' must be a Session; %s" % (sess,))
        if not self._is_empty and sess.graph is not self._graph:
            raise ValueError("The Saver's variables are in a different graph than the session's")

    # -- restore
    def restore(self, sess, save_path):
        """Assigns every variable its value from the checkpoint `save_path` (a prefix save() returned)."""
        if save_path is None:
            raise ValueError("Can't load save_path when it is None.")
        save_path = os.fspath(save_path)
        path = _existing_data_file(save_path)
        if self._is_empty:
            return
        self._check_session(sess)
        loaded, _ = _read_checkpoint(path)
        feed = {}
        for key, var, placeholder in self._restore_feeds:
            if key not in loaded:
                raise errors.NotFoundError(None, None, "Key %s not found in checkpoint %s" % (key, save_path))
            feed[placeholder] = self._checked_value(key, var, loaded[key], save_path)
        sess.run(self._restore_op, feed_dict=feed)

    def _checked_value(self, key, var, value, save_path):
        expected = var.dtype.as_numpy_dtype
        if value.dtype != expected:
            raise errors.InvalidArgumentError(
                None, None, "tensor_name = %s; expected dtype %s does not equal original dtype %s (in "
                "checkpoint %s)" % (key, var.dtype.name, dtypes.as_dtype(value.dtype).name, save_path))
        if not var.shape.is_compatible_with(value.shape):
            if self._reshape and var.shape.is_fully_defined() and var.shape.num_elements() == value.size:
                return value.reshape(var.shape.as_tuple())
            raise errors.InvalidArgumentError(
                None, None, "Shape mismatch for variable %s: the graph expects shape %s, checkpoint %s holds "
                "shape %s" % (key, var.shape, save_path, list(value.shape)))
        return value


def _save_safetensors(tensors, path, metadata):
    """safetensors' save_file, with its I/O failures (a full disk, a missing directory) raised as the OSError
    they are, errno and file name included, rather than as a SafetensorError."""
    st = _safetensors()
    try:
        st.numpy.save_file(tensors, path, metadata=metadata)
    except st.SafetensorError as e:
        m = re.search(r"os error (\d+)", str(e))
        if m is None:
            raise
        code = int(m.group(1))
        raise OSError(code, os.strerror(code), path) from e


def _c_array(value):
    # `np.ascontiguousarray` would turn a 0-d value into shape (1,); keep the shape, copy only if needed.
    arr = np.asarray(value)
    return arr if arr.flags.c_contiguous else arr.copy(order="C")


def _existing_data_file(save_path):
    """The data file of `save_path`, or a NotFoundError that says what to pass instead."""
    if checkpoint_exists(save_path):
        return cm.data_filename(save_path)
    if save_path.endswith(cm.DATA_SUFFIX) and os.path.isfile(save_path):
        return save_path   # the data file itself
    hint = ""
    for directory in (save_path, os.path.dirname(save_path)):
        if os.path.isdir(directory or "."):
            try:
                latest = latest_checkpoint(directory)
            except ValueError:
                latest = None
            if latest:
                hint = " The latest checkpoint there is tf.train.latest_checkpoint(%r) == %r." % (directory, latest)
                break
    what = "is a directory, not a checkpoint prefix" if os.path.isdir(save_path) else \
        "has no data file %s" % cm.data_filename(save_path)
    raise _CheckpointNotFoundError(
        None, None, "Failed to find any matching files for %s: the path %s. Pass the prefix that "
        "Saver.save returned, e.g. tf.train.latest_checkpoint(checkpoint_dir).%s" % (save_path, what, hint))


def _read_checkpoint(path):
    """(key -> array, metadata) from a safetensors file (safe loading: JSON header + raw bytes, no pickle)."""
    try:
        st = _safetensors()
        with st.safe_open(path, framework="np") as f:
            metadata = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (_safetensors().SafetensorError, OSError, ValueError) as e:
        raise errors.DataLossError(None, None, "Unable to read checkpoint %s (corrupted or not a safetensors "
                                   "file): %s" % (path, e)) from None
    return tensors, metadata
