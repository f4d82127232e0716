"""`rules.cel._reading`: the RE2 patterns that read a command as `traits._programs` does, checked
with RE2 itself (google-re2) against the engine on random commands made of the pieces that
change a reading (quotes, separators, shell words, assignments, redirections, loop heads,
launchers, paths, letter case, non-ASCII digits and spaces)."""

from __future__ import annotations

import random

import re2 as google_re2

from mllint.rules import cel, traits

PIECES = [
    "sleep", "SLEEP", "Sleep", "/bin/sleep", "a=b/sleep", "A=1", "x=", "_y=2", "2>", ">/dev/null",
    "2>/x/sleep", "1/sleep", ".x/echo", "\u017fleep", "\u0663>", "\u0663/echo", "for", "FOR",
    "/x/for", "case", "esac", "in", "do", "done", "while", "true", "bash", "sh", "-c", "/bin/sh",
    "python", "train.py", "mpirun", "MPIRUN", "/usr/bin/mpirun", "-np", "2", "ssh", "host",
    "torchrun", "python -m torch.distributed.run", "echo", "cd", "export", "set", "env",
    "nvidia-smi", "fi_info", "{", "}", "(", ")", "!", "time", "'", '"', "\\", "\\\n", ";", "&",
    "|", "&&", "\n", " ", " ", " ", "\t", "\r", "\x0b", "\u00a0", "x", "ls", "tools", "-",
    "'a;b'", '"c|d"', "'sleep'", '"it\'s"', '\\"', "\\'", "\\ ",
]  # fmt: skip


def test_the_patterns_read_commands_as_the_engine_does() -> None:
    patterns = {k: google_re2.compile(v) for k, v in cel._reading().items()}
    rng = random.Random(12)
    read = trivial = unread = other = 0
    for _ in range(60_000):
        text = "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 9)))
        want = traits._trivial(text.strip())
        unquoted = text.replace("'", "").replace('"', "").replace("\\", "")
        odd = patterns["odd"].search(text) or patterns["unclean"].search(text)
        if not odd and not patterns["launcher"].search(unquoted):
            read += 1
            for cmd in (text, text + " ", " " + text):
                got = bool(patterns["trivial"].search(cmd)) and not patterns["none"].search(cmd)
                assert got == want, repr(text)
            trivial += want
        elif patterns["maybe"].search(unquoted):
            unread += 1
        else:
            other += 1
            assert not want, repr(text)
        assert not patterns["mpi"].search(unquoted) or patterns["launcher"].search(unquoted)
        if not patterns["mpi"].search(unquoted):
            assert traits.launched({"command": [text]}) is None, repr(text)
    # The random commands exercise every branch.
    assert read > 3000 and trivial > 300 and unread > 1000 and other > 1000
    print(f"read {read} (trivial {trivial}), not trivial unread {other}, undecided {unread}")
