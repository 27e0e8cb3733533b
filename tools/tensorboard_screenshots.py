"""Screenshots of nanotf runs as the real TensorBoard server draws them, taken in headless Chromium.

By default it trains the MNIST tutorial (fully_connected_feed, --seed 1, 2000 steps) into a temporary
log dir, starts `tensorboard` on a free local port, waits until it serves the run, and saves
    <out>/tensorboard-scalars.png         Scalars dashboard (the `loss` chart)
    <out>/tensorboard-graph.png           Graphs dashboard (main graph, name scopes collapsed)
    <out>/tensorboard-graph-hidden1.png   the same with `hidden1` expanded (edge shape labels)
then stops the server. With --logdir it skips training and shoots an existing event dir instead.

    python tools/tensorboard_screenshots.py --data_dir /work/shared/data/mnist --out docs/images
    python tools/tensorboard_screenshots.py --logdir runs/mnist_with_summaries --out docs/images \\
        --dashboards scalars,graphs,images,histograms,distributions,text --prefix mnist-with-summaries-

Needs (none of it inside the repo):
  * Chromium:       apt-get install -y chromium          (Debian; the script uses /usr/bin/chromium)
  * playwright-core: mkdir -p /tmp/pw && cd /tmp/pw && npm init -y && npm install playwright-core
                    (only the library: it drives the system Chromium, no browser download)
                    other location: --node_modules DIR or $NANOTF_PLAYWRIGHT_NODE_MODULES
  * node (>= 18) and the `tensorboard` package in the Python environment running this script.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BROWSER_DRIVER = os.path.join(REPO_ROOT, "tools", "tensorboard_screenshots.js")
TUTORIAL = "nanotf.examples.tutorials.mnist.fully_connected_feed"

# dashboard (TensorBoard's URL fragment and plugin name) -> file name after the prefix
DASHBOARD_FILES = {"scalars": "scalars", "graphs": "graph", "images": "images", "histograms": "histograms",
                   "distributions": "distributions", "text": "text"}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--data_dir", help="MNIST IDX files: train the tutorial with --seed 1 and shoot its run.")
    source.add_argument("--logdir", help="An existing event dir to shoot (no training).")
    p.add_argument("--out", default=os.path.join(REPO_ROOT, "docs", "images"), help="Where the PNGs go.")
    p.add_argument("--dashboards", default="scalars,graphs",
                   help="Comma-separated, among: " + ",".join(DASHBOARD_FILES))
    p.add_argument("--expand", default=None,
                   help="Comma-separated graph name scopes to expand, one extra PNG each "
                        "(default: hidden1 when training, none with --logdir; '' for none).")
    p.add_argument("--prefix", default="tensorboard-", help="File name prefix of the PNGs.")
    p.add_argument("--tensorboard", default=None, help="tensorboard executable (default: next to this Python).")
    p.add_argument("--chromium", default="/usr/bin/chromium", help="Chromium executable.")
    p.add_argument("--node_modules", default=os.environ.get("NANOTF_PLAYWRIGHT_NODE_MODULES", "/tmp/pw/node_modules"),
                   help="node_modules holding playwright-core.")
    p.add_argument("--width", type=int, default=1400)
    p.add_argument("--height", type=int, default=900)
    p.add_argument("--timeout", type=float, default=90.0, help="Seconds to wait for TensorBoard / each dashboard.")
    args = p.parse_args(argv)
    args.dashboards = [d.strip() for d in args.dashboards.split(",") if d.strip()]
    unknown = [d for d in args.dashboards if d not in DASHBOARD_FILES]
    if unknown:
        p.error("unknown dashboard(s) %s; choose among %s" % (", ".join(unknown), ", ".join(DASHBOARD_FILES)))
    if args.expand is None:
        args.expand = "hidden1" if args.data_dir else ""
    args.expand = [n.strip() for n in args.expand.split(",") if n.strip()]
    return args


def check_tools(args):
    """Fails early, with the install command, on whatever is missing."""
    if args.tensorboard is None:
        beside = os.path.join(os.path.dirname(sys.executable), "tensorboard")
        args.tensorboard = beside if os.path.exists(beside) else shutil.which("tensorboard")
    problems = []
    if not args.tensorboard:
        problems.append("no tensorboard executable: pip install tensorboard, or pass --tensorboard")
    if not os.access(args.chromium, os.X_OK):
        problems.append("no Chromium at %s: apt-get install -y chromium, or pass --chromium" % args.chromium)
    if not shutil.which("node"):
        problems.append("no node on PATH: apt-get install -y nodejs npm")
    if not os.path.isdir(os.path.join(args.node_modules, "playwright-core")):
        problems.append("no playwright-core under %s: mkdir -p /tmp/pw && cd /tmp/pw && npm init -y && "
                        "npm install playwright-core (or pass --node_modules)" % args.node_modules)
    if problems:
        sys.exit("tensorboard_screenshots: " + "\n  ".join(["missing tools:"] + problems))


def train_tutorial(data_dir, log_dir):
    """The tutorial's default 2000 steps with a fixed seed, so the pictures are reproducible."""
    cmd = [sys.executable, "-m", TUTORIAL, "--input_data_dir", data_dir, "--log_dir", log_dir, "--seed", "1"]
    print("training:", " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=REPO_ROOT, check=True, stdout=subprocess.DEVNULL)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_tensorboard(executable, logdir, port, log_file):
    # Own process group: tensorboard starts a data-server child that must go down with it.
    return subprocess.Popen([executable, "--logdir", logdir, "--port", str(port), "--host", "127.0.0.1"],
                            stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)


def stop_tensorboard(server):
    if server.poll() is not None:
        return
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


def wait_for_plugins(server, url, dashboards, timeout):
    """Polls the plugin listing until every dashboard has data (the logdir is read asynchronously).

    Returns the dashboards that are enabled; the others are reported once the time is up."""
    deadline = time.monotonic() + timeout
    enabled = set()
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("tensorboard exited with status %d" % server.returncode)
        try:
            with urllib.request.urlopen(url + "data/plugins_listing", timeout=5) as response:
                listing = json.load(response)
            enabled = {d for d in dashboards if listing.get(d, {}).get("enabled")}
            if enabled == set(dashboards):
                break
        except OSError:  # not listening yet
            pass
        time.sleep(0.5)
    for missing in sorted(set(dashboards) - enabled):
        print("warning: TensorBoard has no %s data in this logdir; skipping it" % missing, file=sys.stderr)
    return [d for d in dashboards if d in enabled]


def shot_list(args, dashboards):
    out = os.path.abspath(args.out)
    shots = []
    for dashboard in dashboards:
        stem = args.prefix + DASHBOARD_FILES[dashboard]
        shots.append({"dashboard": dashboard, "file": os.path.join(out, stem + ".png")})
        if dashboard == "graphs":
            for node in args.expand:
                shots.append({"dashboard": dashboard, "expand": [node],
                              "file": os.path.join(out, "%s-%s.png" % (stem, node.replace("/", "-")))})
    return shots


def take_screenshots(args, url, shots, scratch):
    config = {"url": url, "chromium": args.chromium, "userDataDir": os.path.join(scratch, "chromium-profile"),
              "width": args.width, "height": args.height, "timeoutMs": int(args.timeout * 1000), "shots": shots}
    env = dict(os.environ, NODE_PATH=args.node_modules)
    return subprocess.run(["node", BROWSER_DRIVER, json.dumps(config)], env=env).returncode


def main(argv=None):
    args = parse_args(argv)
    check_tools(args)
    os.makedirs(args.out, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="nanotf-tb-shots-") as scratch:
        logdir = args.logdir
        if logdir is None:
            logdir = os.path.join(scratch, "logs")
            train_tutorial(args.data_dir, logdir)
        elif not os.path.isdir(logdir):
            sys.exit("--logdir %s is not a directory" % logdir)
        port = free_port()
        url = "http://127.0.0.1:%d/" % port
        with open(os.path.join(scratch, "tensorboard.log"), "w+") as tb_log:
            server = start_tensorboard(args.tensorboard, logdir, port, tb_log)
            try:
                dashboards = wait_for_plugins(server, url, args.dashboards, args.timeout)
                status = take_screenshots(args, url, shot_list(args, dashboards), scratch) if dashboards else 1
            except RuntimeError as err:
                tb_log.seek(0)
                sys.exit("%s\n%s" % (err, tb_log.read()))
            finally:
                stop_tensorboard(server)
    if status or len(dashboards) < len(args.dashboards):
        sys.exit(1)


if __name__ == "__main__":
    main()
