"""Where the benchmark scripts put what they measured: results/<name>.md, a table for people, beside
results/<name>.json, every run for programs; and the machine line both carry."""
import json
import os
import platform


def machine():
    """'<processor>, <n> CPUs, Python <version>'."""
    return '%s, %d CPUs, Python %s' % (platform.processor() or platform.machine(), os.cpu_count(),
                                       platform.python_version())


def write(base, markdown, data, **json_options):
    """Writes base.md (the text) and base.json (`data`, indented), creating their folder."""
    os.makedirs(os.path.dirname(base) or '.', exist_ok=True)
    with open(base + '.json', 'w') as f:
        json.dump(data, f, indent=1, **json_options)
    with open(base + '.md', 'w') as f:
        f.write(markdown)
