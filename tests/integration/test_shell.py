"""End to end: `cairn shell` against a real `cairn meta`.

Scripts are piped into the shell on stdin (no terminal: no prompt, no
history); one test drives it through a pseudo-terminal to check the
prompt, line editing, completion, the history file and leaving. Every
wait is bounded.
"""

import fcntl
import os
import select
import signal
import socket
import subprocess
import termios
import time

from conftest import CLI_TIMEOUT

PTY_TIMEOUT = 20.0


def run_shell(cairn_bin, meta_addr, script, *extra, env=None, timeout=CLI_TIMEOUT):
    """Runs `cairn shell --meta ADDR EXTRA...` with `script` on stdin;
    returns (exit code, stdout text, stderr text)."""
    args = [cairn_bin, "shell"] + (["--meta", meta_addr] if meta_addr else []) + list(extra)
    full_env = dict(os.environ)
    full_env.pop("CAIRN_META", None)
    full_env.update(env or {})
    p = subprocess.run(args, input=script.encode(), capture_output=True, timeout=timeout,
                       env=full_env)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def dead_address():
    """127.0.0.1:PORT with nothing listening (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


# ---------------------------------------------------------------- piped scripts


def test_relative_paths_cd_pwd_and_quoting(cairn_bin, cli, tmp_path):
    history = tmp_path / "history"
    script = """
        mkdir -p /top/sub
        cd /top
        pwd
        mkdir "two words" 'it'\\''s'
        touch sub/f1 "two words/x y" two\\ words/z
        cd sub
        pwd
        ls .
        ls ..
        cd ..
        ls "two words"   # a comment
        cd sub/../..
        pwd
        cd top/sub
        cd -
        cd -
        cd
        pwd
    """
    code, out, err = run_shell(cairn_bin, cli.meta, script, env={"CAIRN_HISTORY": str(history)})
    assert code == 0, (out, err)
    assert err == "", err
    assert out.splitlines() == [
        "/top",
        "/top/sub",
        "f1",
        "it's", "sub", "two words",
        "x y", "z",
        "/",
        "/",             # cd - prints where it went
        "/top/sub",
        "/",
    ], out
    # The names really are what the quotes said.
    assert sorted(cli.ls("/top")) == ["it's", "sub", "two words"]
    assert sorted(cli.ls("/top/two words")) == ["x y", "z"]
    # Without a terminal there is no prompt and no history file.
    assert "cairn:" not in out
    assert not history.exists()


def test_errors_do_not_end_the_shell(cairn_bin, cli):
    script = "\n".join([
        "frobnicate now",
        "ls --bogus",
        "mkdir",
        "ls 'unterminated",
        "meta --store memory",
        "exit 300",
        "ls /nonexistent",
        "mkdir /after",
        "ls /",
    ]) + "\n"
    code, out, err = run_shell(cairn_bin, cli.meta, script)
    # The last failing line was `ls /nonexistent`, an operation error.
    assert code == 1, (out, err)
    assert out.splitlines() == ["after"], (out, err)
    assert "cairn: unknown command 'frobnicate'; type 'help'" in err, err
    assert "cairn: ls: " in err and "--bogus" in err, err
    assert "cairn: mkdir: " in err and "PATH is required" in err, err
    assert "unterminated single quote (opened at column 4)" in err, err
    assert "'meta' is not available in the shell" in err, err
    assert "exit: '300' is not a status" in err, err
    assert "cairn: /nonexistent: No such file or directory" in err, err
    assert cli.ls("/").keys() == {"after"}


def test_exit_status(cairn_bin, cli):
    assert run_shell(cairn_bin, cli.meta, "mkdir /a\nls /a\n")[0] == 0
    assert run_shell(cairn_bin, cli.meta, "")[0] == 0
    # The last failure counts even when later lines succeed.
    assert run_shell(cairn_bin, cli.meta, "ls --bogus\npwd\n")[0] == 2
    assert run_shell(cairn_bin, cli.meta, "ls --bogus\nls /missing\nls /\n")[0] == 1
    # exit N wins and stops reading; quit is the same.
    code, out, _ = run_shell(cairn_bin, cli.meta, "ls /missing\nexit 7\npwd\n")
    assert code == 7 and out == ""
    code, out, _ = run_shell(cairn_bin, cli.meta, "quit\npwd\n")
    assert code == 0 and out == ""
    # No trailing newline on the last line: it still runs.
    code, out, _ = run_shell(cairn_bin, cli.meta, "pwd")
    assert code == 0 and out == "/\n"


def test_cd_errors_and_symlinks(cairn_bin, cli):
    cli.ok("mkdir", "-p", "/d/e")
    cli.ok("touch", "/d/f")
    cli.ok("ln", "-s", "/d", "/link")
    cli.ok("ln", "-s", "e", "/d/rel")
    script = "\n".join([
        "cd /nope", "pwd",
        "cd /d/f", "pwd",
        "cd a b", "pwd",
        "cd /link", "pwd",
        "cd rel", "pwd",
        "ls ..",
    ]) + "\n"
    code, out, err = run_shell(cairn_bin, cli.meta, script)
    assert code == 2, (out, err)   # the last failing line: `cd a b`
    assert out.splitlines() == ["/", "/", "/", "/d", "/d/e", "e", "f", "rel"], (out, err)
    assert "cairn: cd: /nope: No such file or directory" in err, err
    assert "cairn: cd: /d/f: Not a directory" in err, err
    assert "cd: too many arguments" in err, err


def test_help(cairn_bin, cli):
    code, out, err = run_shell(cairn_bin, cli.meta, "help\n")
    assert code == 0, err
    rows = {line.split()[0] for line in out.splitlines() if line.startswith("  ")}
    for cmd in ("mkdir", "touch", "ls", "stat", "mv", "rm", "rmdir", "ln", "readlink",
                "cd", "pwd", "help", "exit", "quit"):
        assert cmd in rows, f"help does not list {cmd}:\n{out}"
    assert "meta" not in rows and "shell" not in rows, out
    assert "List a directory" in out, out

    code, out, err = run_shell(cairn_bin, cli.meta, "help ls\n")
    assert code == 0, err
    assert "Usage: ls" in out and "--json" in out and "-l" in out, out
    assert cli.meta in out, "help should show the shell's --meta as the default:\n" + out

    # COMMAND --help prints the same and the shell goes on.
    code, out, err = run_shell(cairn_bin, cli.meta, "mkdir --help\npwd\nhelp cd\n")
    assert code == 0, err
    assert "Usage: mkdir" in out and "-p" in out, out
    assert "\n/\nUsage: cd [DIR | -]\n" in out, out

    code, out, err = run_shell(cairn_bin, cli.meta, "help nosuch\n")
    assert code == 2 and "help: no command 'nosuch'" in err, (out, err)


def test_meta_flag_is_the_default_and_a_line_may_override_it(cairn_bin, cli):
    cli.ok("mkdir", "/here")
    # CAIRN_META points nowhere; the shell's --meta wins for every line.
    code, out, err = run_shell(cairn_bin, cli.meta, "ls /\n", "--timeout", "5",
                               env={"CAIRN_META": dead_address()})
    assert code == 0 and out == "here\n", (out, err)
    # A shell on a dead address: lines fail (quickly, with the shell's
    # timeout) unless they name the server themselves.
    dead = dead_address()
    start = time.monotonic()
    code, out, err = run_shell(cairn_bin, dead, f"ls /\nls --meta {cli.meta} /\n",
                               "--timeout", "3")
    assert code == 1, (out, err)
    assert out == "here\n", (out, err)
    assert dead in err, err
    assert time.monotonic() - start < CLI_TIMEOUT


# ---------------------------------------------------------------- terminal


def _controlling_terminal():
    """preexec_fn: a new session whose controlling terminal is stdin (the
    pty), so Ctrl-C acts as on a real terminal."""
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Pty:
    """`cairn shell` on a pseudo-terminal; reads are bounded by PTY_TIMEOUT."""

    def __init__(self, args, env):
        self.master, slave = os.openpty()
        self.proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, env=env,
                                     preexec_fn=_controlling_terminal, close_fds=True)
        os.close(slave)
        self.buf = b""

    def send(self, data):
        """Types `data` once the line editor is reading: keys typed while the
        terminal is still in canonical mode (between a command's end and the
        editor's next read) are cooked by the kernel, and a Ctrl-D there
        reaches the editor as a NUL byte instead of end-of-file."""
        deadline = time.monotonic() + PTY_TIMEOUT
        while termios.tcgetattr(self.master)[3] & termios.ICANON:
            assert time.monotonic() < deadline, f"the shell never read input; got {self.buf!r}"
            ready, _, _ = select.select([self.master], [], [], 0.01)
            if ready:
                try:
                    self.buf += os.read(self.master, 4096)
                except OSError:
                    pass
        os.write(self.master, data)

    def expect(self, needle, timeout=PTY_TIMEOUT):
        """Reads until `needle` (bytes) appeared after what earlier calls
        consumed; returns the text up to and including it."""
        deadline = time.monotonic() + timeout
        while needle not in self.buf:
            left = deadline - time.monotonic()
            assert left > 0, f"timed out waiting for {needle!r}; got {self.buf!r}"
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:  # EIO: the child closed the terminal
                    chunk = b""
                assert chunk, f"shell ended while waiting for {needle!r}; got {self.buf!r}"
                self.buf += chunk
        end = self.buf.index(needle) + len(needle)
        seen, self.buf = self.buf[:end], self.buf[end:]
        return seen

    def wait(self, timeout=PTY_TIMEOUT):
        # Drain the terminal so the child never blocks on a full buffer.
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    os.read(self.master, 4096)
                except OSError:
                    pass
        return self.proc.wait(timeout=1)

    def close(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)
        os.close(self.master)


def start_pty_shell(cairn_bin, meta_addr, tmp_path):
    history = tmp_path / "history"
    env = dict(os.environ, TERM="xterm", CAIRN_HISTORY=str(history), HOME=str(tmp_path))
    env.pop("CAIRN_META", None)
    return Pty([cairn_bin, "shell", "--meta", meta_addr], env), history


def test_terminal_prompt_history_completion_and_exit(cairn_bin, cli, tmp_path):
    cli.ok("mkdir", "-p", "/photos/2024")
    sh, history = start_pty_shell(cairn_bin, cli.meta, tmp_path)
    try:
        sh.expect(b"Type 'help'")
        sh.expect(b"cairn:/> ")
        sh.send(b"mkdir /ptydir\r")
        sh.expect(b"cairn:/> ")
        sh.send(b"ls /\r")
        out = sh.expect(b"cairn:/> ")
        assert b"photos" in out and b"ptydir" in out, out
        # The history file is written as lines are entered.
        text = history.read_text(errors="replace")
        assert "mkdir" in text and "ptydir" in text, text
        assert oct(history.stat().st_mode & 0o777) == oct(0o600)

        # Tab completes a remote directory, then a command name.
        sh.send(b"cd pho\t\r")
        sh.expect(b"cairn:/photos> ")
        sh.send(b"pw\t\r")
        sh.expect(b"/photos\r\n")
        sh.expect(b"cairn:/photos> ")

        # Up arrow brings back the last line (pwd).
        sh.send(b"cd 2024\r")
        sh.expect(b"cairn:/photos/2024> ")
        sh.send(b"\x1b[A\x1b[A\r")
        sh.expect(b"/photos/2024\r\n")
        sh.expect(b"cairn:/photos/2024> ")

        # A failing command and a help request leave the shell running.
        sh.send(b"ls /nope\r")
        sh.expect(b"No such file or directory")
        sh.send(b"ls --help\r")
        sh.expect(b"Usage: ls")
        sh.expect(b"cairn:/photos/2024> ")

        sh.send(b"exit\r")
        assert sh.wait() == 1       # `ls /nope` failed
        assert "photos" in cli.ls("/")
    finally:
        sh.close()
    lines = history.read_text(errors="replace")
    assert "exit" in lines, lines


def test_terminal_ctrl_d_leaves(cairn_bin, cli, tmp_path):
    sh, _ = start_pty_shell(cairn_bin, cli.meta, tmp_path)
    try:
        sh.expect(b"cairn:/> ")
        sh.send(b"pwd\r")
        sh.expect(b"cairn:/> ")
        sh.send(b"\x04")
        assert sh.wait() == 0
    finally:
        sh.close()
