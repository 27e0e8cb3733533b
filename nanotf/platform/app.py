"""tf.app.run: parse the known flags, then `sys.exit(main(argv))` as TensorFlow 1.x does."""
import sys

from nanotf.platform import flags

__all__ = ["run"]


def run(main=None, argv=None):
    """Parses the DEFINE_*'d flags out of argv (default sys.argv) and calls main([argv[0]] + rest).

    Flags nobody defined stay in the list main receives, so a program may parse them itself
    (`FLAGS, unparsed = parser.parse_known_args(); tf.app.run(main=main, argv=[sys.argv[0]] + unparsed)`).
    main defaults to the `main` function of the __main__ module. Its return value becomes the exit
    status; run never returns.
    """
    if argv is None:
        argv = sys.argv if getattr(sys, "argv", None) else ["program"]
    remaining = flags.FLAGS(argv, known_only=True)
    if main is None:
        main_module = sys.modules["__main__"]
        main = getattr(main_module, "main", None)
        if main is None:
            raise AttributeError("tf.app.run() needs main=...: module __main__ (%s) defines no main()"
                                 % getattr(main_module, "__file__", "?"))
    sys.exit(main(remaining))
