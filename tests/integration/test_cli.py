"""End to end: the `cairn` CLI against a real `cairn meta` on RocksDB.

Each test gets its own server and store (fixtures in conftest.py) and
checks content, not just exit codes: names, types, sizes, link counts,
inode numbers and error messages.
"""

import json
import socket
import time

import pytest

from conftest import Cli, http_get, parse_metrics

NOW_SLACK_NS = 3600 * 10**9


def names(cli, path="/"):
    return sorted(cli.ls(path))


def check_times(entry):
    now = time.time_ns()
    for key in ("mtime_ns", "ctime_ns", "atime_ns"):
        assert abs(entry[key] - now) < NOW_SLACK_NS, f"{key} not near now: {entry}"


# ---------------------------------------------------------------- help, usage


def test_help_lists_commands_and_options(cairn_bin):
    cli = Cli(cairn_bin, None)
    r = cli.run("--help", meta=False)
    assert r.returncode == 0, r
    for cmd in ("meta", "mkdir", "touch", "ls", "stat", "mv", "rm", "rmdir", "ln", "readlink"):
        assert cmd in r.out, f"`cairn --help` does not mention {cmd}:\n{r.out}"
    r = cli.run("mkdir", "--help", meta=False)
    assert r.returncode == 0, r
    assert "-p" in r.out and "--meta" in r.out, r.out
    r = cli.run("ls", "--help", meta=False)
    assert r.returncode == 0, r
    assert "-l" in r.out and "--json" in r.out, r.out
    r = cli.run("rm", "--help", meta=False)
    assert r.returncode == 0 and "-r" in r.out and "-f" in r.out, r


def test_usage_errors_exit_2(cli):
    cli.fail("mkdir", code=2)                       # no path
    cli.fail("ls", "--no-such-option", code=2)
    cli.fail("mv", "/only-one", code=2)
    r = cli.run("no-such-command", meta=False)
    assert r.returncode == 2, r


def test_unreachable_meta_is_an_error_not_a_hang(cairn_bin, tmp_path):
    # A port nothing listens on (bound then closed); the CLI must give up.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cli = Cli(cairn_bin, f"127.0.0.1:{port}")
    start = time.monotonic()
    r = cli.run("ls", "/", timeout=60)
    assert r.returncode == 1, r
    assert r.stderr.startswith("cairn: "), r
    assert time.monotonic() - start < 30, "the CLI took too long to report an unreachable server"


# ---------------------------------------------------------------- mkdir, touch, ls, stat


def test_mkdir_p_touch_ls(cli):
    cli.ok("mkdir", "-p", "/a/b/c")
    cli.ok("mkdir", "-p", "/a/b/c")                 # -p: existing is fine
    cli.ok("mkdir", "/a/x", "/a/y")                 # several paths
    cli.ok("touch", "/a/f1", "/a/b/f2")

    root = cli.ls("/")
    assert list(root) == ["a"]
    assert root["a"]["type"] == "dir"
    a = cli.ls("/a")
    assert sorted(a) == ["b", "f1", "x", "y"]
    assert [e for e in cli.json("ls", "--json", "/a")] == sorted(a.values(), key=lambda e: e["name"].encode()), \
        "ls lists in name order"
    assert {n: e["type"] for n, e in a.items()} == {"b": "dir", "f1": "file", "x": "dir", "y": "dir"}
    assert a["f1"]["size"] == 0 and a["f1"]["nlink"] == 1
    assert a["b"]["nlink"] == 3                     # ., .. from c, entry in a
    assert a["x"]["nlink"] == 2
    inos = [e["ino"] for e in a.values()] + [root["a"]["ino"]]
    assert len(set(inos)) == len(inos) and all(i > 1 for i in inos), inos
    for e in a.values():
        check_times(e)
        assert e["mode"] == (0o755 if e["type"] == "dir" else 0o644), e   # default modes, no type bits
        assert (e["uid"], e["gid"]) == (0, 0), e

    assert names(cli, "/a/b") == ["c", "f2"]
    assert cli.ls("/a/b/c") == {}

    # Plain ls prints the names.
    out = cli.ok("ls", "/a").out
    for n in ("b", "f1", "x", "y"):
        assert n in out.split(), out
    # ls of the root by default.
    assert "a" in cli.ok("ls").out.split()


def test_ls_long_format(cli):
    cli.ok("mkdir", "/d")
    cli.ok("touch", "/file")
    cli.ok("ln", "-s", "/d", "/link")
    lines = [line for line in cli.ok("ls", "-l", "/").out.splitlines() if line.strip()]
    by_name = {}
    for line in lines:
        for n in ("d", "file", "link"):
            if line.split()[-1] == n or (n == "link" and " link -> " in line):
                by_name[n] = line
    assert set(by_name) == {"d", "file", "link"}, lines
    assert by_name["d"].startswith("d"), by_name
    assert by_name["file"].startswith("-"), by_name
    assert by_name["link"].startswith("l") and "-> /d" in by_name["link"], by_name


def test_mkdir_errors(cli):
    cli.fail("mkdir", "/no/such/parent", message="No such file or directory")
    cli.ok("mkdir", "/d")
    r = cli.fail("mkdir", "/d", message="File exists")
    assert "/d" in r.stderr
    cli.ok("touch", "/f")
    cli.fail("mkdir", "/f/sub", message="Not a directory")
    cli.fail("mkdir", "-p", "/f/sub", message="Not a directory")
    assert names(cli) == ["d", "f"]


def test_error_message_format(cli):
    r = cli.fail("stat", "/a/b", message="No such file or directory")
    assert r.stderr.strip() == "cairn: /a/b: No such file or directory", r


def test_touch_existing_keeps_inode_and_updates_mtime(cli):
    cli.ok("touch", "/f")
    before = cli.stat("/f")
    time.sleep(0.01)
    cli.ok("touch", "/f")
    after = cli.stat("/f")
    assert after["ino"] == before["ino"]
    assert after["mtime_ns"] >= before["mtime_ns"]
    assert names(cli) == ["f"]
    cli.ok("mkdir", "/d")
    cli.ok("touch", "/d")                           # touching a dir is fine
    assert cli.stat("/d")["type"] == "dir"


def test_stat_json(cli):
    cli.ok("mkdir", "-p", "/s/t/u")
    cli.ok("touch", "/s/f")
    listed = cli.ls("/s")
    st = cli.stat("/s/f")
    assert st["type"] == "file" and st["size"] == 0 and st["nlink"] == 1
    assert st["ino"] == listed["f"]["ino"]
    check_times(st)
    d = cli.stat("/s")
    assert d["type"] == "dir" and d["nlink"] == 3   # 2 + one subdir (t)
    root = cli.stat("/")
    assert root["type"] == "dir" and root["ino"] == 1 and root["nlink"] == 3
    for key in ("ino", "type", "mode", "nlink", "uid", "gid", "size", "mtime_ns", "ctime_ns", "atime_ns"):
        assert key in st, f"stat --json lacks {key}: {st}"
    cli.fail("stat", "/s/nope", message="No such file or directory")
    # Plain stat mentions the inode number.
    assert str(st["ino"]) in cli.ok("stat", "/s/f").out


# ---------------------------------------------------------------- mv


def test_mv_file_rename_and_into_dir(cli):
    cli.ok("mkdir", "/a", "/b")
    cli.ok("touch", "/a/f")
    ino = cli.stat("/a/f")["ino"]

    cli.ok("mv", "/a/f", "/a/g")                    # rename in place
    assert names(cli, "/a") == ["g"]
    assert cli.stat("/a/g")["ino"] == ino

    cli.ok("mv", "/a/g", "/b")                      # into a directory
    assert names(cli, "/a") == [] and names(cli, "/b") == ["g"]
    assert cli.stat("/b/g")["ino"] == ino

    cli.ok("touch", "/b/h")
    victim = cli.stat("/b/h")["ino"]
    cli.ok("mv", "/b/g", "/b/h")                    # replaces an existing file
    assert names(cli, "/b") == ["h"]
    assert cli.stat("/b/h")["ino"] == ino != victim

    cli.fail("mv", "/b/nope", "/a/x", message="No such file or directory")


def test_mv_dir_updates_link_counts(cli):
    cli.ok("mkdir", "-p", "/p1/d/sub", "/p2")
    cli.ok("touch", "/p1/d/f")
    d_ino = cli.stat("/p1/d")["ino"]
    assert cli.stat("/p1")["nlink"] == 3 and cli.stat("/p2")["nlink"] == 2

    cli.ok("mv", "/p1/d", "/p2")                    # into /p2
    assert names(cli, "/p1") == []
    assert names(cli, "/p2") == ["d"]
    assert names(cli, "/p2/d") == ["f", "sub"]
    assert cli.stat("/p2/d")["ino"] == d_ino
    assert cli.stat("/p1")["nlink"] == 2 and cli.stat("/p2")["nlink"] == 3

    cli.ok("mv", "/p2/d", "/p2/e")                  # rename a dir
    assert names(cli, "/p2") == ["e"] and names(cli, "/p2/e") == ["f", "sub"]
    cli.ok("mv", "/p2/e", "/top")                   # to the root
    assert names(cli) == ["p1", "p2", "top"]
    assert cli.stat("/")["nlink"] == 5


def test_mv_dir_into_own_subtree_fails(cli):
    cli.ok("mkdir", "-p", "/m/n/o")
    before = {p: cli.ls(p) for p in ("/", "/m", "/m/n", "/m/n/o")}
    cli.fail("mv", "/m", "/m/n/o/p", message="Invalid argument")
    cli.fail("mv", "/m", "/m/n", message="Invalid argument")   # into /m/n/m
    cli.fail("mv", "/m", "/m/n/o", message="Invalid argument")
    after = {p: cli.ls(p) for p in ("/", "/m", "/m/n", "/m/n/o")}
    assert after == before


def test_mv_replacing_rules(cli):
    # `mv SRC DIR` moves SRC into DIR, so each case below renames onto DIR/SRC.
    cli.ok("mkdir", "-p", "/x", "/y/x/z")
    cli.fail("mv", "/x", "/y", message="Directory not empty")
    assert names(cli, "/y/x") == ["z"] and "x" in cli.ls("/")

    cli.ok("mkdir", "-p", "/e1", "/w/e1")           # onto an empty dir: replaces it
    e1 = cli.stat("/e1")["ino"]
    cli.ok("mv", "/e1", "/w")
    assert cli.stat("/w/e1")["ino"] == e1 and "e1" not in cli.ls("/")

    cli.ok("touch", "/f")
    cli.ok("mkdir", "-p", "/q/f")                   # file onto a dir
    cli.fail("mv", "/f", "/q", message="Is a directory")
    cli.ok("mkdir", "/dd", "/r")
    cli.ok("touch", "/r/dd")                        # dir onto a file
    cli.fail("mv", "/dd", "/r", message="Not a directory")
    assert cli.ls("/r")["dd"]["type"] == "file" and cli.ls("/")["dd"]["type"] == "dir"


# ---------------------------------------------------------------- rm, rmdir


def test_rm(cli):
    cli.ok("mkdir", "-p", "/t/a/b/c")
    cli.ok("touch", "/t/f", "/t/a/g", "/t/a/b/h", "/t/a/b/c/i")
    cli.ok("rm", "/t/f")
    assert names(cli, "/t") == ["a"]
    cli.fail("rm", "/t/a", message="Is a directory")
    cli.fail("rm", "/t/f", message="No such file or directory")
    cli.ok("rm", "-f", "/t/f")                      # -f: missing is fine
    cli.ok("rm", "-r", "/t/a")
    assert names(cli, "/t") == []
    assert cli.stat("/t")["nlink"] == 2
    cli.ok("touch", "/t/x", "/t/y")
    cli.ok("rm", "/t/x", "/t/y")
    assert names(cli, "/t") == []


def test_rmdir(cli):
    cli.ok("mkdir", "-p", "/r/full", "/r/empty")
    cli.ok("touch", "/r/full/f", "/r/file")
    r = cli.fail("rmdir", "/r/full", message="Directory not empty")
    assert "/r/full" in r.stderr
    cli.fail("rmdir", "/r/file", message="Not a directory")
    cli.fail("rmdir", "/r/nope", message="No such file or directory")
    cli.ok("rmdir", "/r/empty")
    assert names(cli, "/r") == ["file", "full"]
    assert cli.stat("/r")["nlink"] == 3
    cli.fail("rmdir", "/", code=1)


# ---------------------------------------------------------------- links


def test_hard_link(cli):
    cli.ok("mkdir", "/d")
    cli.ok("touch", "/f")
    cli.ok("ln", "/f", "/d/g")
    f, g = cli.stat("/f"), cli.stat("/d/g")
    assert f["ino"] == g["ino"] and f["nlink"] == g["nlink"] == 2
    assert cli.ls("/d")["g"]["type"] == "file"
    cli.ok("rm", "/f")
    assert cli.stat("/d/g")["nlink"] == 1
    cli.fail("ln", "/d", "/d2")                     # no hard links to dirs
    cli.fail("ln", "/d/g", "/d/g", message="File exists")


def test_symlink_and_readlink(cli):
    cli.ok("mkdir", "/d")
    cli.ok("touch", "/d/f")
    cli.ok("ln", "-s", "/d/f", "/abs")
    cli.ok("ln", "-s", "../d/./f", "/d/rel")
    cli.ok("ln", "-s", "/nowhere", "/dangling")
    root = cli.ls("/")
    assert root["abs"]["type"] == "symlink" and root["abs"]["target"] == "/d/f"
    assert root["abs"]["mode"] == 0o777 and root["abs"]["nlink"] == 1
    assert root["abs"]["size"] == len("/d/f")
    assert root["dangling"]["target"] == "/nowhere"
    assert "target" not in root["d"] or not root["d"]["target"]
    assert cli.ok("readlink", "/abs").out == "/d/f\n"
    assert cli.ok("readlink", "/d/rel").out == "../d/./f\n"
    assert cli.ok("readlink", "/dangling").out == "/nowhere\n"
    cli.fail("readlink", "/d/f", message="Invalid argument")
    cli.fail("readlink", "/none", message="No such file or directory")
    assert cli.stat("/abs")["type"] == "symlink"    # stat does not follow the last component
    # A symlink in the middle of a path is followed; the last component is
    # not (ls of a symlink shows the link, as stat does).
    cli.ok("ln", "-s", "/d", "/dl")
    assert cli.stat("/dl/f")["ino"] == cli.stat("/d/f")["ino"]
    assert list(cli.ls("/dl")) == ["/dl"]            # like ls(1) given a non-directory
    cli.ok("touch", "/dl/new")
    assert "new" in cli.ls("/d")
    # rm removes the link, not its target.
    cli.ok("rm", "/abs")
    assert "f" in cli.ls("/d") and "abs" not in cli.ls("/")


def test_symlink_loop_is_eloop(cli):
    cli.ok("ln", "-s", "/l2", "/l1")
    cli.ok("ln", "-s", "/l1", "/l2")
    cli.fail("ls", "/l1/x", message="Too many levels of symbolic links")


# ---------------------------------------------------------------- hostile names


@pytest.mark.parametrize("name", [
    "new\nline",
    "tab\there",
    "sp ace",
    "d\u00e9j\u00e0-vu",
    "\u65e5\u672c\u8a9e",
    "emoji-\U0001F600",
    "-leading-dash",
    "quote\"back\\slash",
    "*?[glob]",
    "x" * 255,
    "\u00e9" * 127,                                  # 254 bytes of UTF-8
])
def test_hostile_names_round_trip(cli, name):
    cli.ok("mkdir", "/h")
    path = "/h/" + name
    cli.ok("touch", "--", path) if name.startswith("-") else cli.ok("touch", path)
    listed = cli.ls("/h")
    assert list(listed) == [name]
    assert listed[name]["type"] == "file"
    assert cli.stat(path)["ino"] == listed[name]["ino"]
    dname = ("dir-" + name).encode()[:255].decode("utf-8", "ignore")   # at most 255 bytes
    dpath = "/h/" + dname
    cli.ok("mkdir", dpath)
    assert set(cli.ls("/h")) == {name, dname}
    cli.ok("mv", path, dpath)
    assert list(cli.ls(dpath)) == [name]
    cli.ok("rm", "-r", dpath)
    assert cli.ls("/h") == {}


def test_name_too_long(cli):
    long = "n" * 256
    cli.fail("mkdir", "/" + long, message="File name too long")
    cli.fail("touch", "/" + long, message="File name too long")
    cli.ok("touch", "/ok")
    cli.fail("mv", "/ok", "/" + long, message="File name too long")
    cli.fail("ln", "-s", "/ok", "/" + long, message="File name too long")
    # 128 two-byte characters: 256 bytes.
    cli.fail("mkdir", "/" + "\u00e9" * 128, message="File name too long")
    assert names(cli) == ["ok"]


def test_path_too_long(cli):
    # 17 components of 250 bytes: over 4096 bytes in all.
    path = "".join("/" + "p" * 250 for _ in range(17))
    cli.fail("mkdir", "-p", path, message="File name too long")


def test_dot_and_dotdot_are_normalized(cli):
    cli.ok("mkdir", "-p", "/a/b")
    cli.ok("mkdir", "/a/b/../c")                    # is /a/c
    cli.ok("touch", "/a/./c/../../f")               # is /f
    cli.ok("mkdir", "//a///d//")                    # is /a/d
    assert names(cli) == ["a", "f"]
    assert names(cli, "/a") == ["b", "c", "d"]
    cli.fail("rmdir", "/")


def test_non_utf8_name_round_trips(cli):
    # Linux allows any bytes but '/' and NUL in a name, UTF-8 or not.
    raw = b"/bad-\xff\xfe-name"
    r = cli.run("touch", raw)
    assert r.returncode == 0, r
    r = cli.run("stat", "--json", raw)
    assert r.returncode == 0, r
    assert json.loads(r.stdout)["type"] == "file"
    # JSON cannot carry invalid UTF-8: the name is shown with U+FFFD.
    r = cli.run("ls", "--json", "/")
    assert r.returncode == 0, r
    listed = [e["name"] for e in json.loads(r.stdout)]
    assert listed == ["bad-\ufffd\ufffd-name"], listed
    r = cli.run("rm", raw)
    assert r.returncode == 0, r
    assert names(cli) == []


# ---------------------------------------------------------------- HTTP


def test_healthz_and_metrics(cli, meta):
    status, body = http_get(meta.http, "/healthz")
    assert status == 200, body
    status, _ = http_get(meta.http, "/no-such-page")
    assert status == 404

    status, text = http_get(meta.http, "/metrics")
    assert status == 200
    before, types = parse_metrics(text)
    assert types.get("cairn_meta_requests_total") == "counter", types

    for i in range(5):
        cli.ok("mkdir", f"/m{i}")
    cli.fail("mkdir", "/no/such")
    cli.ok("ls", "/")

    status, text = http_get(meta.http, "/metrics")
    after, _ = parse_metrics(text)

    def delta(name, labels):
        return after.get((name, labels), 0) - before.get((name, labels), 0)

    assert delta("cairn_meta_requests_total", '{op="Mkdir"}') >= 6, after
    assert delta("cairn_meta_requests_total", '{op="Readdir"}') >= 1, after
    assert delta("cairn_meta_errors_total", '{op="Mkdir",errc="NotFound"}') >= 1 or \
        delta("cairn_meta_errors_total", '{errc="NotFound",op="Mkdir"}') >= 1, after
    assert delta("cairn_meta_request_duration_seconds_count", '{op="Mkdir"}') >= 6, after
    # No counter ever goes down.
    for key, value in before.items():
        if types.get(key[0]) == "counter":
            assert after.get(key, 0) >= value, key
