"""The engine's regular expressions rewritten for RE2, the regular-expression engine of CEL's
`matches()` in the API server, which has no look-around.

`translate` takes a pattern of the engine's tables (`traits.py`) and gives an RE2 pattern that
finds a match in exactly the strings the original finds one in (`re.search`), rewriting the
look-around forms those tables use into plain alternatives:

- `(?!)` as a whole alternative (a server known by its command only): the alternative is
  dropped, as it never matches;
- `X(?!abc)` ending an alternative: `X` followed by the end of the string or by anything that
  does not start with `abc` (`(?:$|[^a]|a(?:$|[^b]|b(?:$|[^c])))`);
- `(?<!abc)(?<!abd)X` starting an alternative: `X` preceded by the start of the string or by
  characters that do not end with any of the words;
- `X(?!.*--head)` ending an alternative: `X` followed by the rest of its line (`.` stops at a
  newline) without the word, then a newline or the end.

Any other look-around raises `Unsupported`, so a new pattern in the tables either translates
or is reported, never silently changed. The rewrites consume characters the look-around only
inspected; that changes where a match lies, not whether there is one, which is all `matches()`
answers.

Both engines agree on the syntax the results use. They differ on what Unicode means: Python's
`\\b`, `\\s` and case folding are Unicode-aware and RE2's `\\b` and `\\s` are ASCII-only, so a
command with non-ASCII letters next to a keyword may be read differently (docs/policies.md).
"""

from __future__ import annotations

import re

WHITESPACE = "".join(chr(c) for c in range(0x110000) if chr(c).isspace())
"""What Python's `str.split()` and `str.isspace()` take for whitespace."""


class Unsupported(ValueError):
    """A pattern with a construct RE2 lacks and `translate` does not rewrite."""


def translate(pattern: str) -> str | None:
    """An RE2 pattern matching (somewhere) in exactly the strings `pattern` matches in; None
    when the pattern can never match."""
    flags = ""
    found = re.match(r"\(\?[aiLmsux]+\)", pattern)
    if found:
        flags, pattern = found.group(), pattern[found.end() :]
    if "s" in flags:
        raise Unsupported("the DOTALL flag changes what `.` spans in a look-ahead")
    out = []
    for alternative in alternatives(pattern):
        if alternative == "(?!)":
            continue
        out.append(_alternative(alternative))
    return flags + "|".join(out) if out else None


def alternatives(pattern: str) -> list[str]:
    """The top-level alternatives of a pattern (`a|(b|c)` -> `a`, `(b|c)`)."""
    parts, depth, start, i, in_class = [], 0, 0, 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
            if pattern[i + 1 : i + 2] == "^":
                i += 1
            if pattern[i + 1 : i + 2] == "]":
                i += 1
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            parts.append(pattern[start:i])
            start = i + 1
        i += 1
    parts.append(pattern[start:])
    return parts


def _group_end(pattern: str, start: int) -> int:
    """The index just after the group opening at `start`."""
    depth, i = 0, start
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise Unsupported(f"unbalanced group in {pattern!r}")


def _literal(text: str) -> str:
    """The characters a literal sub-pattern stands for (`\\.` -> `.`)."""
    out, i = [], 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            if i + 1 >= len(text) or text[i + 1].isalnum():
                raise Unsupported(f"{text!r} is not a literal")
            out.append(text[i + 1])
            i += 2
            continue
        if ch in ".^$*+?{}[]()|":
            raise Unsupported(f"{text!r} is not a literal")
        out.append(ch)
        i += 1
    if not out:
        raise Unsupported("an empty look-around")
    return "".join(out)


def _alternative(text: str) -> str:
    behind: list[str] = []
    while text.startswith("(?<!"):
        end = _group_end(text, 0)
        behind.append(_literal(text[4 : end - 1]))
        text = text[end:]
    suffix = ""
    if text.endswith(")"):
        # The last group, if it is a look-ahead.
        start = _last_group(text)
        if text.startswith("(?!", start):
            body = text[start + 3 : -1]
            text = text[:start]
            if body.startswith(".*"):
                suffix = line_without(_literal(body[2:])) + r"(?:\n|$)"
            else:
                suffix = not_before(_literal(body))
    if re.search(r"\(\?<?[=!]", text):
        raise Unsupported(f"a look-around RE2 lacks, in {text!r}")
    prefix = not_after(behind) if behind else ""
    return prefix + text + suffix


def _last_group(text: str) -> int:
    """The index of the group that closes at the end of `text`."""
    i = 0
    last = -1
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "[":
            i = _class_end(text, i)
            continue
        if ch == "(":
            end = _group_end(text, i)
            if end == len(text):
                last = i
            i = end
            continue
        i += 1
    return last


def _class_end(text: str, start: int) -> int:
    i = start + 1
    if text[i : i + 1] == "^":
        i += 1
    if text[i : i + 1] == "]":
        i += 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == "]":
            return i + 1
        i += 1
    raise Unsupported(f"unbalanced class in {text!r}")


def char_class(chars: str, negate: bool = False) -> str:
    """A class of the given characters (or of any other, with `negate`)."""
    body = "".join(
        "\\n" if c == "\n" else "\\" + c if c in "\\]^-[" else c for c in sorted(set(chars))
    )
    return f"[{'^' if negate else ''}{body}]"


def not_before(word: str) -> str:
    """What `(?!word)` allows: the end, or text that does not start with `word`."""
    out = ""
    for ch in reversed(word):
        inner = f"|{escape(ch)}{out}" if out else ""
        out = f"(?:$|{char_class(ch, negate=True)}{inner})"
    return out


def not_after(words: list[str]) -> str:
    """What `(?<!w1)(?<!w2)...` allows at the start of a match: the start of the string, or
    characters before it that do not end with any of the words."""
    # Walk back from the match over a trie of the reversed words: at each node (a suffix every
    # word of that branch ends with), either the string starts there or the character before
    # leaves the trie. Every word must be a leaf: a word ending another would be a prefix node.
    options = []
    suffixes = {w[len(w) - k :] for w in words for k in range(len(w))}
    if any(w[len(w) - k :] in words for w in words for k in range(1, len(w))):
        raise Unsupported("a look-behind word ends another")
    for suffix in sorted(suffixes, key=lambda s: (len(s), s)):
        before = {w[len(w) - len(suffix) - 1] for w in words if w.endswith(suffix)}
        options.append(f"(?:^|{char_class(''.join(before), negate=True)}){escape(suffix)}")
    return "(?:" + "|".join(options) + ")"


def line_without(word: str) -> str:
    """Characters up to the end of the line (no newline) that do not contain `word`, for a word
    made of a run of one character and then a tail without it (`--head`)."""
    lead = word[0]
    run = len(word) - len(word.lstrip(lead))
    tail = word[run:]
    if not tail or lead in tail or lead == "\n" or "\n" in tail:
        raise Unsupported(f"no rewrite of a look-ahead for {word!r}")
    other = char_class("\n" + lead, negate=True)
    # The piece after a run of `lead` long enough to start the word: not empty (runs are
    # maximal) and not starting with the tail; a proper prefix of the tail may end it.
    nested = ""
    for ch in reversed(tail):
        starts = f"{char_class(chr(10) + lead + ch, negate=True)}{other}*"
        nested = f"(?:{starts}|{escape(ch)}(?:{nested})?)" if nested else starts
    short = f"{escape(lead)}{{1,{run - 1}}}{other}+" if run > 1 else ""
    runs = f"{escape(lead)}{{{run},}}{nested}"
    tokens = f"{short}|{runs}" if short else runs
    return f"{other}*(?:{tokens})*{escape(lead)}*"


def escape(text: str) -> str:
    """A literal for RE2 and Python alike (only punctuation is escaped)."""
    return "".join(
        "\\" + c if not c.isalnum() and c not in " _" and c.isascii() else c for c in text
    )
