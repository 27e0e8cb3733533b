"""FileWriter (tf.summary.FileWriter, the seed's tf.train.SummaryWriter): TensorBoard event files.

Events go through the tensorboard package's EventFileWriter, which names the file
`events.out.tfevents.<time>.<host>.<pid>.<counter>` (unique per writer), writes the `brain.Event:2`
version record first and appends records from a background thread. `flush()`/`close()` push them
to disk; writers still open at interpreter exit are closed by an atexit hook so no record is lost.
Like TF1, writing to a closed writer warns and does nothing until `reopen()` (which starts a new file).
"""
import atexit
import os
import threading
import time
import warnings

import numpy as np

__all__ = ["FileWriter", "FileWriterCache"]

_open_event_writers = set()   # EventFileWriters to close at exit
_open_lock = threading.Lock()
_atexit_registered = False


def _close_open_event_writers():
    with _open_lock:
        writers = list(_open_event_writers)
        _open_event_writers.clear()
    for w in writers:
        try:
            w.close()
        except Exception:  # noqa: BLE001 - best effort at shutdown; one bad file must not stop the others
            pass


def _open_event_writer(logdir, max_queue, flush_secs, filename_suffix):
    global _atexit_registered
    from tensorboard.summary.writer.event_file_writer import EventFileWriter
    writer = EventFileWriter(logdir, max_queue_size=max_queue, flush_secs=flush_secs,
                             filename_suffix=filename_suffix or "")
    with _open_lock:
        _open_event_writers.add(writer)
        if not _atexit_registered:
            atexit.register(_close_open_event_writers)
            _atexit_registered = True
    return writer


def _step(global_step):
    try:
        return int(global_step)
    except (TypeError, ValueError):
        raise TypeError("global_step must be a Python or NumPy integer, got %r" % (global_step,)) from None


class FileWriter:
    """Writes Summary protos, the graph and other events to an event file in `logdir`.

    FileWriter(logdir, graph=None, max_queue=10, flush_secs=120, graph_def=None, filename_suffix=None,
    session=None). `graph` (or the deprecated `graph_def`) is written at once. `session` is accepted
    for TF1 compatibility; nanotf always writes from Python, so it changes nothing."""

    def __init__(self, logdir, graph=None, max_queue=10, flush_secs=120, graph_def=None, filename_suffix=None,
                 session=None):
        self._logdir = os.fspath(logdir)
        self._options = (int(max_queue), flush_secs, filename_suffix)
        self._event_writer = _open_event_writer(self._logdir, *self._options)
        self._closed = False
        self._seen_summary_tags = set()
        self._seen_run_metadata_tags = set()
        if graph is not None or graph_def is not None:
            self.add_graph(graph=graph, graph_def=graph_def)

    def get_logdir(self):
        """The directory the event file is in."""
        return self._logdir

    # -- writing
    def add_event(self, event):
        """Writes an Event proto as is."""
        if self._warn_if_closed():
            return
        self._event_writer.add_event(event)

    def _add_event(self, event, global_step):
        event.wall_time = time.time()
        if global_step is not None:
            event.step = _step(global_step)
        self.add_event(event)

    def add_summary(self, summary, global_step=None):
        """Writes a summary: the bytes `sess.run(summary_op)` returns, or a Summary proto.

        Like TF1, a tag's plugin metadata is kept on its first value only, to save space."""
        from tensorboard.compat.proto import event_pb2, summary_pb2
        if isinstance(summary, np.ndarray) and summary.dtype == object and summary.size == 1:
            summary = summary.reshape(())[()]
        if isinstance(summary, (bytes, bytearray, memoryview)):
            summary = summary_pb2.Summary.FromString(bytes(summary))
        elif not isinstance(summary, summary_pb2.Summary):
            raise TypeError("add_summary expects a serialized Summary (bytes, as returned by running a summary op) "
                            "or a Summary proto, got %s" % type(summary).__name__)
        summary = self._strip_seen_metadata(summary)
        self._add_event(event_pb2.Event(summary=summary), global_step)

    def _strip_seen_metadata(self, summary):
        copied = False
        for i, value in enumerate(summary.value):
            if not value.HasField("metadata"):
                continue
            if value.tag in self._seen_summary_tags:
                if not copied:  # never mutate the caller's proto
                    summary, copied = type(summary).FromString(summary.SerializeToString()), True
                summary.value[i].ClearField("metadata")
            else:
                self._seen_summary_tags.add(value.tag)
        return summary

    def add_graph(self, graph, global_step=None, graph_def=None):
        """Writes a Graph (as a GraphDef with output shapes, for edge labels) or a GraphDef."""
        from tensorboard.compat.proto import event_pb2, graph_pb2

        from nanotf.framework.ops import Graph
        if graph is not None and graph_def is not None:
            raise ValueError("Please pass only graph, or graph_def (deprecated), but not both.")
        source = graph if graph is not None else graph_def
        if isinstance(source, Graph):
            proto = source.as_graph_def(add_shapes=True)
        elif isinstance(source, graph_pb2.GraphDef):
            proto = source
        else:
            raise TypeError("The passed graph must be an instance of `Graph` or the deprecated `GraphDef`, got %s"
                            % type(source).__name__)
        self._add_event(event_pb2.Event(graph_def=proto.SerializeToString()), global_step)
        if not self._closed:
            self._event_writer.flush()   # the graph shows in TensorBoard without waiting for flush_secs

    def add_session_log(self, session_log, global_step=None):
        """Writes a SessionLog proto (START / STOP / CHECKPOINT)."""
        from tensorboard.compat.proto import event_pb2
        self._add_event(event_pb2.Event(session_log=session_log), global_step)

    def add_run_metadata(self, run_metadata, tag, global_step=None):
        """Writes run metadata (a RunMetadata proto, or its serialized bytes) under `tag`, once per tag."""
        from tensorboard.compat.proto import event_pb2
        if tag in self._seen_run_metadata_tags:
            raise ValueError("The provided run_metadata has already been used with tag: %s" % tag)
        if isinstance(run_metadata, (bytes, bytearray)):
            data = bytes(run_metadata)
        elif hasattr(run_metadata, "SerializeToString"):
            data = run_metadata.SerializeToString()
        else:
            raise TypeError("add_run_metadata expects a RunMetadata proto or bytes, got %s"
                            % type(run_metadata).__name__)
        self._seen_run_metadata_tags.add(tag)
        tagged = event_pb2.TaggedRunMetadata(tag=tag, run_metadata=data)
        self._add_event(event_pb2.Event(tagged_run_metadata=tagged), global_step)

    # -- lifecycle
    def _warn_if_closed(self):
        if self._closed:
            warnings.warn("Attempting to use a closed FileWriter. The operation will be a noop unless the "
                          "FileWriter is explicitly reopened.", stacklevel=3)
        return self._closed

    def flush(self):
        """Writes every pending event to disk."""
        if self._warn_if_closed():
            return
        self._event_writer.flush()

    def close(self):
        """Flushes and closes the event file. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        with _open_lock:
            _open_event_writers.discard(self._event_writer)
        self._event_writer.close()

    def reopen(self):
        """After close(): continue in a new event file in the same logdir. Does nothing if open."""
        if self._closed:
            self._event_writer = _open_event_writer(self._logdir, *self._options)
            self._closed = False

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close()

    def __repr__(self):
        return "<nanotf.summary.FileWriter logdir=%r%s>" % (self._logdir, " closed" if self._closed else "")


class FileWriterCache:
    """One FileWriter per logdir, shared (created with the default graph on first use)."""

    _cache = {}
    _lock = threading.RLock()

    @staticmethod
    def get(logdir):
        from nanotf.framework.ops import get_default_graph
        logdir = os.fspath(logdir)
        with FileWriterCache._lock:
            writer = FileWriterCache._cache.get(logdir)
            if writer is None:
                writer = FileWriterCache._cache[logdir] = FileWriter(logdir, graph=get_default_graph())
            return writer

    @staticmethod
    def clear():
        """Closes and forgets every cached writer."""
        with FileWriterCache._lock:
            writers = list(FileWriterCache._cache.values())
            FileWriterCache._cache.clear()
        for writer in writers:
            writer.close()
