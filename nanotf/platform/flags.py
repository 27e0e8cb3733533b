"""tf.flags / tf.app.flags: gflags-style command-line flags, written on the standard library.

    flags = tf.app.flags
    FLAGS = flags.FLAGS
    flags.DEFINE_integer('max_steps', 2000, 'Number of steps to run trainer.')
    ... FLAGS.max_steps ...

Semantics follow TensorFlow 1.x:
- `FLAGS.name` parses sys.argv[1:] on first use if nothing parsed it yet (the TF 1.0 tutorials read
  FLAGS before or without tf.app.run); unknown flags are left for the program.
- Accepted forms: `--name=value`, `--name value`, `-name=value`; booleans take `--name`,
  `--noname`, `--name=true|false|t|f|1|0`, and also `--name true|false` (TF 1.0's argparse
  flags consumed that word; leaving it would silently set the flag to True). `--` ends flags.
- `--help` (`-h`, `-help`, `--helpfull`) prints every flag with its help text and exits 0.
- `FLAGS(argv, known_only=False)` parses argv (argv[0] is the program) and returns
  [argv[0]] + the arguments it did not consume; an unknown flag raises UnrecognizedFlagError
  unless known_only (tf.app.run passes known_only=True).
- Setting `FLAGS.name = value` stores the value as given (after the lazy parse, so a later first
  read does not overwrite it), as TF does.
- The DEFINE_* functions also accept TF 1.0's keyword names (flag_name, default_value, docstring).
"""
import functools
import os
import sys

__all__ = [
    "DEFINE_bool", "DEFINE_boolean", "DEFINE_enum", "DEFINE_float", "DEFINE_integer", "DEFINE_list",
    "DEFINE_multi_float", "DEFINE_multi_integer", "DEFINE_multi_string", "DEFINE_string",
    "DuplicateFlagError", "Error", "FLAGS", "Flag", "FlagValues", "IllegalFlagValueError",
    "UnrecognizedFlagError", "mark_flag_as_required", "mark_flags_as_required",
]

_HELP_NAMES = ("help", "h", "helpfull", "helpshort")
_TRUE_WORDS = ("true", "t", "1")
_FALSE_WORDS = ("false", "f", "0")
# After a boolean flag, only these words are taken as its value (`--fake_data false`).
_BOOL_NEXT_WORDS = ("true", "false")


class Error(Exception):
    """Base class of the flag errors (absl's flags.Error)."""


class DuplicateFlagError(Error):
    """A flag name defined twice with different definitions."""


class IllegalFlagValueError(Error, ValueError):
    """A value that the flag's type, bounds or choices reject."""


class UnrecognizedFlagError(Error):
    """A `--name` on the command line that no DEFINE_* declared (only when not known_only)."""

    def __init__(self, flagname, flagvalue=""):
        self.flagname = flagname
        self.flagvalue = flagvalue
        super().__init__("Unknown command line flag '%s'" % flagname)


# ---- value parsers: str (or a Python default) -> typed value; raise ValueError on bad input ----

def _parse_string(value):
    return value if value is None else str(value)


def _parse_integer(value):
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ValueError("expected an integer, got %r" % (value,))
    if isinstance(value, int):
        return value
    text = value.strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return int(text, 0)  # absl also takes 0x1F / 0o17 / 0b101 literals
    except ValueError:
        raise ValueError("expected an integer, got %r" % (value,)) from None


def _parse_float(value):
    if isinstance(value, bool):
        raise ValueError("expected a number, got %r" % (value,))
    return float(value)


def _parse_bool(value):
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
    raise ValueError("expected true/false/t/f/1/0, got %r" % (value,))


def _parse_list(value):
    if isinstance(value, (list, tuple)):
        return list(value)  # a Python default keeps its items as given, as absl does
    text = str(value).strip()
    return [item.strip() for item in text.split(",")] if text else []


class Flag:
    """One declared flag. `value` reads and writes the owning FlagValues' value table."""

    def __init__(self, kind, name, default, help_text, parse, enum_values=None, multi=False,
                 lower_bound=None, upper_bound=None, case_sensitive=True):
        self.kind = kind                  # 'string', 'integer', 'float', 'bool', 'list', 'enum'
        self.name = name
        self.help = help_text if help_text is not None else "(no help available)"
        self.enum_values = list(enum_values) if enum_values is not None else None
        self.multi = multi
        self.lower_bound, self.upper_bound = lower_bound, upper_bound
        self.case_sensitive = case_sensitive
        self._parse_one = parse
        self.present = 0                  # times given on the command line
        self._table = None                # FlagValues' name -> value dict, set on registration
        self.default = None if default is None else self.convert(default)

    @property
    def boolean(self):
        return self.kind == "bool"

    @property
    def value(self):
        return self._table[self.name]

    @value.setter
    def value(self, new_value):
        self._table[self.name] = new_value

    def convert(self, raw):
        """The typed value for `raw` (a command-line string or a Python default)."""
        if self.multi:
            items = raw if isinstance(raw, (list, tuple)) else [raw]
            return [self._convert_one(item) for item in items]
        return self._convert_one(raw)

    def _convert_one(self, raw):
        try:
            value = self._parse_one(raw)
        except (TypeError, ValueError) as exc:
            raise IllegalFlagValueError("flag --%s=%s: %s" % (self.name, raw, exc)) from None
        if self.enum_values is not None:
            value = self._match_enum(value)
        if self.lower_bound is not None and value < self.lower_bound:
            raise IllegalFlagValueError("flag --%s=%s: must be >= %s" % (self.name, raw, self.lower_bound))
        if self.upper_bound is not None and value > self.upper_bound:
            raise IllegalFlagValueError("flag --%s=%s: must be <= %s" % (self.name, raw, self.upper_bound))
        return value

    def _match_enum(self, value):
        for choice in self.enum_values:
            if value == choice or (not self.case_sensitive and value.lower() == choice.lower()):
                return choice
        raise IllegalFlagValueError("flag --%s=%s: value should be one of <%s>"
                                    % (self.name, value, "|".join(self.enum_values)))

    def _same_definition(self, other):
        return (self.kind, self.default, self.help, self.enum_values, self.multi) == \
               (other.kind, other.default, other.help, other.enum_values, other.multi)

    def usage(self):
        """Help lines for --help."""
        if self.boolean:
            head = "--[no]%s" % self.name
        elif self.enum_values is not None:
            head = "--%s=<%s>" % (self.name, "|".join(self.enum_values))
        else:
            head = "--%s=%s" % (self.name, self.kind.upper())
        default = self.default
        if isinstance(default, bool):
            default = str(default).lower()
        elif isinstance(default, list):
            default = ",".join(str(v) for v in default)
        repeat = "; repeat this option to specify a list of values" if self.multi else ""
        return "  %s: %s\n    (default: '%s'%s)" % (head, self.help, default, repeat)


class FlagValues:
    """The flag registry and its values (`FLAGS`). Values live in `__dict__['__flags']`, a
    name -> value dict, where TF 1.0 kept them (`FLAGS.__flags` still returns it)."""

    def __init__(self):
        self.__dict__["__flags"] = {}
        self.__dict__["_definitions"] = {}
        self.__dict__["_parsed"] = False
        self.__dict__["_last_args"] = []
        self.__dict__["_required"] = []

    # ---- attribute access: the lazy parse ----

    def __getattr__(self, name):
        # Only called when ordinary lookup fails, i.e. for flag names.
        if name.startswith("__"):   # copy/pickle probes must not trigger a parse
            raise AttributeError(name)
        if not self.__dict__["_parsed"]:
            self._parse_flags()
        values = self.__dict__["__flags"]
        if name not in values:
            raise AttributeError("Flag '%s' is not defined" % name)
        return values[name]

    def __setattr__(self, name, value):
        if not self.__dict__["_parsed"]:
            self._parse_flags()
        self.__dict__["__flags"][name] = value

    def __delattr__(self, name):
        if name not in self.__dict__["__flags"]:
            raise AttributeError("Flag '%s' is not defined" % name)
        del self.__dict__["__flags"][name]
        self.__dict__["_definitions"].pop(name, None)

    def __contains__(self, name):
        return name in self.__dict__["__flags"]

    def __iter__(self):
        return iter(self.__dict__["__flags"])

    def __len__(self):
        return len(self.__dict__["__flags"])

    def __getitem__(self, name):
        """The Flag object (absl style: FLAGS['max_steps'].value, .default, .help)."""
        return self.__dict__["_definitions"][name]

    def _values(self):
        if not self.__dict__["_parsed"]:
            self._parse_flags()
        return self.__dict__["__flags"]

    def flag_values_dict(self):
        """A copy of the name -> value table."""
        return dict(self._values())

    def get_flag_value(self, name, default):
        return self._values().get(name, default)

    def is_parsed(self):
        return self.__dict__["_parsed"]

    def mark_as_parsed(self):
        self.__dict__["_parsed"] = True

    def unparse_flags(self):
        """Back to the defaults, unparsed (the next read parses sys.argv again)."""
        values = self.__dict__["__flags"]
        for name, flag in self.__dict__["_definitions"].items():
            values[name] = list(flag.default) if isinstance(flag.default, list) else flag.default
            flag.present = 0
        self.__dict__["_parsed"] = False

    # ---- definition ----

    def _register(self, flag):
        definitions = self.__dict__["_definitions"]
        old = definitions.get(flag.name)
        if old is not None:
            if old._same_definition(flag):
                return  # the same script run twice in one process (a notebook, runpy): harmless
            raise DuplicateFlagError("The flag '%s' is defined twice with different definitions"
                                     % flag.name)
        flag._table = self.__dict__["__flags"]
        definitions[flag.name] = flag
        flag.value = list(flag.default) if isinstance(flag.default, list) else flag.default
        if self.__dict__["_parsed"]:
            # Defined after the command line was read: take its value from that command line.
            self._parse(self.__dict__["_last_args"], known_only=True, only=flag.name)

    # ---- parsing ----

    def __call__(self, argv, known_only=False):
        """Parses argv (argv[0] is the program name); returns [argv[0]] + unconsumed arguments."""
        if isinstance(argv, (str, bytes)) or not hasattr(argv, "__iter__"):
            raise TypeError("FLAGS(argv) expects a list of strings (program name first), got %r"
                            % (argv,))
        argv = list(argv)
        if not argv:
            raise ValueError("FLAGS(argv) needs at least the program name in argv[0]")
        return argv[:1] + self._parse_flags(argv[1:], known_only=known_only)

    def _parse_flags(self, args=None, known_only=True):
        """TF 1.0's entry point: parses args (default sys.argv[1:]); returns what it left."""
        if args is None:
            args = sys.argv[1:] if getattr(sys, "argv", None) else []
        args = list(args)
        unparsed = self._parse(args, known_only)
        self.__dict__["_last_args"] = args
        self.__dict__["_parsed"] = True
        self._check_required()
        return unparsed

    def _parse(self, args, known_only, only=None):
        definitions = self.__dict__["_definitions"]
        unparsed = []
        seen_multi = set()
        i = 0
        while i < len(args):
            arg = args[i]
            i += 1
            if arg == "--":
                if known_only:
                    unparsed.append(arg)
                unparsed.extend(args[i:])
                break
            if not arg.startswith("-") or arg == "-":
                unparsed.append(arg)
                continue
            name = arg[2:] if arg.startswith("--") else arg[1:]
            name, eq, value = name.partition("=")
            flag = definitions.get(name)
            if flag is None and name in _HELP_NAMES and only is None:
                self._print_help()
                sys.exit(0)
            negated = False
            if flag is None and name.startswith("no") and not eq:
                candidate = definitions.get(name[2:])
                if candidate is not None and candidate.boolean:
                    flag, negated = candidate, True
            if flag is None or (only is not None and flag.name != only):
                if known_only:
                    unparsed.append(arg)
                    continue
                raise UnrecognizedFlagError(name, value)
            if flag.boolean:
                if negated:
                    new_value = False
                elif eq:
                    new_value = flag.convert(value)
                elif i < len(args) and args[i].lower() in _BOOL_NEXT_WORDS:
                    new_value = flag.convert(args[i])
                    i += 1
                else:
                    new_value = True
            else:
                if not eq:
                    if i >= len(args):
                        raise IllegalFlagValueError("flag --%s needs a value" % flag.name)
                    value = args[i]
                    i += 1
                new_value = flag.convert(value)
                if flag.multi:
                    # The first occurrence replaces the default, later ones append.
                    if flag.name in seen_multi:
                        new_value = flag.value + new_value
                    seen_multi.add(flag.name)
            flag.value = new_value
            flag.present += 1
        return unparsed

    def _check_required(self):
        values = self.__dict__["__flags"]
        for name in self.__dict__["_required"]:
            if values.get(name) is None:
                raise IllegalFlagValueError("flag --%s=None: Flag --%s must have a value other than None."
                                            % (name, name))

    def _print_help(self):
        program = os.path.basename(sys.argv[0]) if getattr(sys, "argv", None) else "program"
        lines = ["usage: %s [flags] [args]" % program, "", "flags:"]
        for flag in self.__dict__["_definitions"].values():
            lines.append(flag.usage())
        lines.append("  --help: show this help and exit")
        print("\n".join(lines))


def _flags_property(self):
    """`FLAGS.__flags`: TF 1.0's name -> value table (parsed first, so it shows real values)."""
    return self._values()


# Set outside the class body so that the attribute is literally '__flags' (no name mangling);
# a data descriptor wins over the instance dict entry of the same name.
setattr(FlagValues, "__flags", property(_flags_property))

FLAGS = FlagValues()


# ---- DEFINE_* ----

_TF10_KEYWORDS = (("flag_name", "name"), ("default_value", "default"), ("docstring", "help"))


def _tf10_keywords(define):
    """Lets DEFINE_* take TF 1.0's keyword names (flag_name=, default_value=, docstring=)."""
    @functools.wraps(define)
    def wrapper(*args, **kwargs):
        for old, new in _TF10_KEYWORDS:
            if old in kwargs:
                kwargs[new] = kwargs.pop(old)
        return define(*args, **kwargs)
    return wrapper


def _define(kind, parse, name, default, help, flag_values, required=False, **options):
    if not isinstance(name, str) or not name:
        raise TypeError("flag name must be a non-empty string, got %r" % (name,))
    flag = Flag(kind, name, default, help, parse, **options)
    flag_values = FLAGS if flag_values is None else flag_values
    flag_values._register(flag)
    if required:
        mark_flag_as_required(name, flag_values)
    return flag


@_tf10_keywords
def DEFINE_string(name, default, help, flag_values=None, required=False):
    """A string flag."""
    return _define("string", _parse_string, name, default, help, flag_values, required)


@_tf10_keywords
def DEFINE_integer(name, default, help, lower_bound=None, upper_bound=None, flag_values=None,
                   required=False):
    """An integer flag, optionally bounded."""
    return _define("integer", _parse_integer, name, default, help, flag_values, required,
                   lower_bound=lower_bound, upper_bound=upper_bound)


@_tf10_keywords
def DEFINE_float(name, default, help, lower_bound=None, upper_bound=None, flag_values=None,
                 required=False):
    """A float flag, optionally bounded."""
    return _define("float", _parse_float, name, default, help, flag_values, required,
                   lower_bound=lower_bound, upper_bound=upper_bound)


@_tf10_keywords
def DEFINE_boolean(name, default, help, flag_values=None, required=False):
    """A boolean flag: --name, --noname, --name=true/false/1/0."""
    return _define("bool", _parse_bool, name, default, help, flag_values, required)


DEFINE_bool = DEFINE_boolean


@_tf10_keywords
def DEFINE_list(name, default, help, flag_values=None, required=False):
    """A comma-separated list of strings (`--layers=a,b,c` -> ['a', 'b', 'c'])."""
    return _define("list", _parse_list, name, default, help, flag_values, required)


@_tf10_keywords
def DEFINE_enum(name, default, enum_values, help, flag_values=None, required=False, case_sensitive=True):
    """A string flag restricted to enum_values."""
    if not enum_values:
        raise ValueError("DEFINE_enum('%s'): enum_values must be a non-empty list" % name)
    return _define("enum", _parse_string, name, default, help, flag_values, required,
                   enum_values=enum_values, case_sensitive=case_sensitive)


@_tf10_keywords
def DEFINE_multi_string(name, default, help, flag_values=None, required=False):
    """A repeatable string flag: `--x=a --x=b` -> ['a', 'b']."""
    return _define("string", _parse_string, name, default, help, flag_values, required, multi=True)


@_tf10_keywords
def DEFINE_multi_integer(name, default, help, lower_bound=None, upper_bound=None, flag_values=None,
                         required=False):
    """A repeatable integer flag."""
    return _define("integer", _parse_integer, name, default, help, flag_values, required, multi=True,
                   lower_bound=lower_bound, upper_bound=upper_bound)


@_tf10_keywords
def DEFINE_multi_float(name, default, help, lower_bound=None, upper_bound=None, flag_values=None,
                       required=False):
    """A repeatable float flag."""
    return _define("float", _parse_float, name, default, help, flag_values, required, multi=True,
                   lower_bound=lower_bound, upper_bound=upper_bound)


def mark_flag_as_required(flag_name, flag_values=None):
    """Parsing fails with IllegalFlagValueError while this flag is None."""
    flag_values = FLAGS if flag_values is None else flag_values
    if flag_name not in flag_values.__dict__["_definitions"]:
        raise KeyError("mark_flag_as_required: flag '%s' is not defined" % flag_name)
    required = flag_values.__dict__["_required"]
    if flag_name not in required:
        required.append(flag_name)


def mark_flags_as_required(flag_names, flag_values=None):
    for flag_name in flag_names:
        mark_flag_as_required(flag_name, flag_values)
