"""The documentation's links hold: every relative link (images included) points at a file that
exists, and every link to a line of code, `[`quote`](path#L<n>)`, quotes what line n of that file
says, so that a derivation in docs/bptt.md cannot drift away from the code it explains."""
import functools
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCUMENTS = ["docs/bptt.md", "README.md"]

# a link or image, whose text may hold code spans (which may hold brackets), or an inline code span
# outside any link: matching code spans as their own tokens keeps a "[" inside one from starting a
# link
TOKEN = re.compile(r"(?P<link>!?\[(?P<text>(?:`[^`\n]*`|[^\]`\n]|\n(?!\n))*)\]"
                   r"\((?P<target>[^()\s]+)\))|`[^`\n]*`")
FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.S | re.M)
LINE_ANCHOR = re.compile(r"L([0-9]+)")
CODE_SPAN = re.compile(r"`([^`]+)`")


def links(text):
    """(text, target, (start, end) of the target) of every Markdown link and image in text,
    fenced code blocks left out (blanked to the same length, so positions stay true)."""
    text = FENCE.sub(lambda m: re.sub(r"[^\n]", " ", m.group()), text)
    for m in TOKEN.finditer(text):
        if m.group("link"):
            yield m.group("text"), m.group("target"), m.span("target")


def is_relative(target):
    return not re.match(r"[a-z][a-z0-9+.-]*:", target, re.I) and not target.startswith("#")


@functools.lru_cache(maxsize=None)
def file_lines(path):
    return path.read_text(encoding="utf-8").splitlines()


def squeeze(text):
    """Whitespace-normalised: runs of blanks as one space, none at either end."""
    return " ".join(text.split())


def link_problems(text, base):
    """One line per link in `text` (a Markdown document in the folder `base`) that does not hold:
    a relative target missing or outside the repository, or a `#L<n>` link whose file has no line
    n or whose line n does not contain the link's quoted code (whitespace-normalised)."""
    problems = []
    for link_text, target, _ in links(text):
        if not is_relative(target):
            continue
        where = f"[{link_text}]({target})"
        path_part, _, anchor = target.partition("#")
        path = (base / path_part).resolve()
        if ROOT != path and ROOT not in path.parents:
            problems.append(f"{where}: points outside the repository")
            continue
        if not path.exists():
            problems.append(f"{where}: {path.relative_to(ROOT)} does not exist")
            continue
        if not anchor:
            continue
        line_anchor = LINE_ANCHOR.fullmatch(anchor)
        if line_anchor is None or not path.is_file():
            problems.append(f"{where}: only #L<n> anchors on files can be checked")
            continue
        quote = CODE_SPAN.fullmatch(link_text)
        if quote is None:
            problems.append(f"{where}: a link to a line must quote it as one code span")
            continue
        n, lines = int(line_anchor.group(1)), file_lines(path)
        if not 1 <= n <= len(lines):
            problems.append(f"{where}: {path.relative_to(ROOT)} has {len(lines)} lines")
        elif squeeze(quote.group(1)) not in squeeze(lines[n - 1]):
            problems.append(f"{where}: line {n} reads {lines[n - 1].strip()!r}")
    return problems


def line_links(text):
    """The links of `text` that carry a #L<n> anchor, as (text, target, span)."""
    return [link for link in links(text) if LINE_ANCHOR.fullmatch(link[1].partition("#")[2])]


def read(document):
    path = ROOT / document
    return path.read_text(encoding="utf-8"), path.parent


@pytest.mark.parametrize("document", DOCUMENTS)
def test_every_relative_link_and_every_quoted_line_holds(document):
    text, base = read(document)
    problems = link_problems(text, base)
    assert problems == [], (f"{document}: where code moved, update the link's #L<n> (and its "
                            f"explanation, if the code changed):\n" + "\n".join(problems))


def test_the_bptt_walkthrough_quotes_the_code_it_derives():
    """The check above is not vacuous: the walk-through links lines of every file it explains,
    and the README links the walk-through."""
    text, _ = read("docs/bptt.md")
    targets = [target.partition("#")[0] for _, target, _ in line_links(text)]
    assert len(targets) >= 80, len(targets)
    for path in ("../minirnn/layers/cells.py", "../minirnn/layers/bptt.py",
                 "../minirnn/layers/fused.py", "../minirnn/layers/kernels/common.py"):
        assert path in targets, path
    images = [target for _, target, _ in links(text) if target.startswith("figures/")]
    assert images == ["figures/bptt_norms.png", "figures/adding_problem_gradients.png"]
    assert "python -m minirnn bptt --cell simple_rnn,lstm,gru --timesteps 100 --plot " \
           "docs/figures/bptt_norms.png" in text
    readme, _ = read("README.md")
    assert "(docs/bptt.md)" in readme


@pytest.mark.parametrize("shift", [-1, 1])
def test_every_quote_pins_its_line(shift):
    """Each quoted line, moved one line up or down, is reported: no quote is so short or so
    common that a neighbouring line would pass for it."""
    text, base = read("docs/bptt.md")
    already = set(link_problems(text, base))   # reported by the test above; not this one's concern
    unreported = []
    for link_text, target, (start, end) in line_links(text):
        path_part, _, anchor = target.partition("#")
        moved_target = f"{path_part}#L{int(anchor[1:]) + shift}"
        moved = text[:start] + moved_target + text[end:]
        new = [p for p in link_problems(moved, base) if p not in already]
        if len(new) != 1 or not new[0].startswith(f"[{link_text}]({moved_target})"):
            unreported.append(f"[{link_text}]({moved_target}): {new}")
    assert unreported == []


# LICENSE stands in for a code file: its lines do not move when the code is edited
@pytest.mark.parametrize("link, message", [
    ("[`MIT License`](../LICENSE#L3)", "line 3 reads 'Copyright (c) 2026 The minirnn authors'"),
    ("[`MIT License`](../LICENSE#L99999)", "has"),
    ("[`z += zx`](../minirnn/layers/no_such_file.py#L1)", "does not exist"),
    ("![a figure](figures/no_such_figure.png)", "does not exist"),
    ("[MIT License](../LICENSE#L1)", "one code span"),
    ("[`MIT License`](../LICENSE#license)", "only #L<n> anchors"),
    ("[`x`](../../outside.py#L1)", "outside the repository"),
])
def test_a_broken_link_is_reported(link, message):
    problems = link_problems(f"Some text, then {link}.\n", ROOT / "docs")
    assert len(problems) == 1 and message in problems[0], problems


def test_whitespace_is_normalised_and_code_blocks_and_web_links_are_skipped():
    text = ("[`MIT   License`](../LICENSE#L1) [site](https://example.org/x.py#L1)\n"
            "```\n[`nothing`](../no_such_file.py#L1)\n```\n"
            "`a[0]` and [anchor](#notation)\n")
    assert link_problems(text, ROOT / "docs") == []
    assert [target for _, target, _ in links(text)] == [
        "../LICENSE#L1", "https://example.org/x.py#L1", "#notation"]
