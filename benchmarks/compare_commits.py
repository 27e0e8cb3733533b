"""Did a change make nanotf slower? The working tree against another commit, in one invocation.

    .venv/bin/python benchmarks/compare_commits.py --base HEAD~1 --rounds 5

Checks `--base` out into a temporary git worktree, then alternates the two engines round by round
(base, this tree, base, ...), so that a neighbour's load or the machine's clock drift falls on both
alike. Each round runs, in a fresh process, each tree's own benchmark programs on its own engine
(PYTHONPATH; the programs may use what only their engine has):
- the tutorial (`programs/nanotf_mlp.py`, real MNIST, 2000 steps): median ms per training step and
  evaluation examples per second;
- one Deep MNIST training step (`programs/deep_mnist_step.py`): median ms.
It prints the median of each figure over the rounds and the ratio this tree / base (for ms below 1
is faster, for examples per second above 1 is).
The temporary worktree is removed at the end.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
RESULT_PREFIX = "BENCH_RESULT "


def _run(tree, argv):
    """Runs a benchmark program of `tree` on its engine; returns (nanotf path, last JSON line)."""
    env = dict(os.environ, PYTHONPATH=tree)
    probe = "import nanotf, runpy, sys; print('ENGINE', nanotf.__file__); sys.argv = %r; " \
            "runpy.run_path(sys.argv[0], run_name='__main__')" % (argv,)
    out = subprocess.run([sys.executable, "-c", probe], cwd=os.path.join(tree, "benchmarks", "programs"), env=env, check=True,
                         capture_output=True, text=True).stdout
    engine = next(line.split(None, 1)[1] for line in out.splitlines() if line.startswith("ENGINE"))
    last = [line for line in out.splitlines() if line.startswith("{") or line.startswith(RESULT_PREFIX)][-1]
    return engine, json.loads(last[len(RESULT_PREFIX):] if last.startswith(RESULT_PREFIX) else last)


def measure(tree, data_dir):
    engine, tut = _run(tree, ["nanotf_mlp.py", "--data_dir", data_dir])
    if not engine.startswith(tree):
        raise SystemExit("compare_commits: ran the engine at %s, expected one under %s" % (engine, tree))
    _, deep = _run(tree, ["deep_mnist_step.py", "--steps", "30"])
    return {"tutorial ms/step": statistics.median(tut["step_ms"][10:]),
            "eval ex/s": tut["eval_examples_per_s"],
            "Deep MNIST ms/step": deep["median_ms"]}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--base", default="HEAD~1", help="the commit to compare against (default HEAD~1)")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--data_dir", default=None,
                   help="the folder of the four MNIST files (default: where tf1_programs.find_mnist finds them)")
    args = p.parse_args()
    if args.data_dir is None:
        sys.path.insert(0, HERE)
        from tf1_programs import find_mnist
        args.data_dir = find_mnist()
    if not args.data_dir or not os.path.isdir(args.data_dir):
        raise SystemExit("compare_commits: no MNIST files at %s (--data_dir)" % args.data_dir)
    base_rev = subprocess.run(["git", "rev-parse", "--short", args.base], cwd=REPO, check=True,
                              capture_output=True, text=True).stdout.strip()
    tmp = tempfile.mkdtemp(prefix="nanotf-base-")
    base_tree = os.path.join(tmp, "tree")
    subprocess.run(["git", "worktree", "add", "--detach", base_tree, base_rev], cwd=REPO, check=True,
                   capture_output=True)
    figures = {"base": [], "this tree": []}
    try:
        for r in range(args.rounds):
            for name, tree in (("base", base_tree), ("this tree", REPO)):
                figures[name].append(measure(tree, args.data_dir))
                print("round %d %-9s %s" % (r + 1, name, json.dumps(figures[name][-1])), flush=True)
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", base_tree], cwd=REPO, capture_output=True)
        os.rmdir(tmp)
    print("\n| measure | base %s | this tree | this tree / base |" % base_rev)
    print("|---|---|---|---|")
    for key in figures["base"][0]:
        b = statistics.median(f[key] for f in figures["base"])
        t = statistics.median(f[key] for f in figures["this tree"])
        print("| %s | %.4g | %.4g | %.3f |" % (key, b, t, t / b))


if __name__ == "__main__":
    main()
