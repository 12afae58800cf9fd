"""Move the `#L<n>` anchors of docs/bptt.md (and README.md) to where their quoted code now stands.

    python tests/relink_docs.py          # rewrite the documents, print what moved or is lost

After an edit shifts lines in the code a document quotes, tests/test_docs.py lists the links that
broke; this moves each one to the line that holds its quote, the nearest one to the old line when
the quote stands on several. A quote found nowhere is printed and left for a person to mend.
"""
import re
import sys

from test_docs import CODE_SPAN, DOCUMENTS, LINE_ANCHOR, ROOT, file_lines, links, squeeze


def relink(document):
    path = ROOT / document
    text = path.read_text(encoding="utf-8")
    edits, lost = [], []
    for link_text, target, (start, end) in links(text):
        path_part, _, anchor = target.partition("#")
        line_anchor, quote = LINE_ANCHOR.fullmatch(anchor), CODE_SPAN.fullmatch(link_text)
        if line_anchor is None or quote is None:
            continue
        source = (path.parent / path_part).resolve()
        lines, wanted, n = file_lines(source), squeeze(quote.group(1)), int(line_anchor.group(1))
        if 1 <= n <= len(lines) and wanted in squeeze(lines[n - 1]):
            continue
        found = [i + 1 for i, line in enumerate(lines) if wanted in squeeze(line)]
        if not found:
            lost.append(f"{document}: {quote.group(1)!r} is no longer in {path_part}")
            continue
        best = min(found, key=lambda i: abs(i - n))
        edits.append((start, end, f"{path_part}#L{best}"))
        print(f"{document}: {quote.group(1)!r} L{n} -> L{best}")
    for start, end, new in reversed(edits):
        text = text[:start] + new + text[end:]
    path.write_text(text, encoding="utf-8")
    return lost


if __name__ == "__main__":
    lost = [problem for document in DOCUMENTS for problem in relink(document)]
    print("\n".join(lost))
    sys.exit(1 if lost else 0)
