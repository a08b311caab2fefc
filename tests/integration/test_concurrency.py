"""Concurrent clients: the store's optimistic transactions must keep the
namespace consistent when several CLI processes race on the same
directories (link counts, one winner per name, no rename cycles)."""

from concurrent.futures import ThreadPoolExecutor

from conftest import Cli


def run_all(calls, workers=4):
    """Runs the callables concurrently; returns their results in order."""
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda f: f(), calls))


def test_concurrent_mkdirs_in_one_directory_keep_nlink_exact(cli):
    cli.ok("mkdir", "/p")
    batches = [[f"/p/c{w}-{i}" for i in range(40)] for w in range(4)]
    results = run_all([lambda b=b: cli.run("mkdir", *b) for b in batches])
    for r in results:
        assert r.returncode == 0, r
    listed = cli.ls("/p")
    assert len(listed) == 160
    assert cli.stat("/p")["nlink"] == 2 + 160
    # And remove them concurrently, files mixed in.
    cli.ok("touch", *[f"/p/f{i}" for i in range(40)])
    results = run_all([lambda b=b: cli.run("rmdir", *b) for b in batches] +
                      [lambda: cli.run("rm", *[f"/p/f{i}" for i in range(40)])])
    for r in results:
        assert r.returncode == 0, r
    assert cli.ls("/p") == {}
    assert cli.stat("/p")["nlink"] == 2


def test_one_winner_per_name(cli):
    results = run_all([lambda: cli.run("mkdir", "/same") for _ in range(8)], workers=8)
    assert sorted(r.returncode for r in results) == [0] + [1] * 7, results
    for r in results:
        if r.returncode:
            assert "File exists" in r.stderr, r
    assert list(cli.ls("/")) == ["same"] and cli.stat("/")["nlink"] == 3


def test_crossing_renames_never_make_a_cycle(cli):
    # mv /a /b/x and mv /b /a/y at the same time: POSIX allows one of them
    # at most; if both applied, a and b would hang off each other and
    # vanish from the tree.
    for round_no in range(15):
        cli.ok("mkdir", "/a", "/b")
        r1, r2 = run_all([lambda: cli.run("mv", "/a", "/b/x"),
                          lambda: cli.run("mv", "/b", "/a/y")], workers=2)
        ok = [r for r in (r1, r2) if r.returncode == 0]
        assert len(ok) <= 1, f"round {round_no}: both renames succeeded:\n{r1!r}\n{r2!r}"
        for r in (r1, r2):
            if r.returncode:
                assert "Invalid argument" in r.stderr or "No such file" in r.stderr, r
        top = cli.ls("/")
        assert len(top) == 1 and top[next(iter(top))]["type"] == "dir", top
        assert cli.stat("/")["nlink"] == 3, f"round {round_no}: root nlink"
        cli.ok("rm", "-r", "/" + next(iter(top)))
        assert cli.ls("/") == {} and cli.stat("/")["nlink"] == 2


def test_concurrent_moves_between_two_directories(cli):
    cli.ok("mkdir", "/left", "/right")
    cli.ok("mkdir", *[f"/left/d{i}" for i in range(30)])
    cli.ok("touch", *[f"/right/f{i}" for i in range(30)])

    def mover(src, dst, names):
        c = Cli(cli.binary, cli.meta)
        return [c.run("mv", f"{src}/{n}", dst) for n in names]

    results = run_all([
        lambda: mover("/left", "/right", [f"d{i}" for i in range(0, 30, 2)]),
        lambda: mover("/left", "/right", [f"d{i}" for i in range(1, 30, 2)]),
        lambda: mover("/right", "/left", [f"f{i}" for i in range(0, 30, 2)]),
        lambda: mover("/right", "/left", [f"f{i}" for i in range(1, 30, 2)]),
    ])
    for rs in results:
        for r in rs:
            assert r.returncode == 0, r
    left, right = cli.ls("/left"), cli.ls("/right")
    assert sorted(left) == sorted(f"f{i}" for i in range(30))
    assert sorted(right) == sorted(f"d{i}" for i in range(30))
    assert cli.stat("/left")["nlink"] == 2 and cli.stat("/right")["nlink"] == 32
    for name, e in right.items():
        assert e["nlink"] == 2, (name, e)
