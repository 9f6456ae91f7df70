"""An answer's plain text as safe HTML: paragraphs, line breaks, lists and links.

Answers are written in the admin as plain text, never HTML: everything is escaped, then
a blank line starts a paragraph, lines that start with "- " (or "* ") are a list,
[text](https://...) is a link and so is an address pasted on its own. Only http, https
and mailto links become anchors; anything else stays text.
"""

import re
from itertools import groupby

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString

from regua.lib.html import clean_html

_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")
_BULLET = re.compile(r"^\s*[-*]\s+")
_LINK = r"\[(?P<label>[^\[\]\n]+)\]\((?P<target>(?:https?://|mailto:)[^\s()]+)\)"
_URL = r"(?P<url>https?://[^\s<>\"']+)"
_TOKEN = re.compile(f"{_LINK}|{_URL}", re.IGNORECASE)
# Punctuation that ends a sentence rather than the address pasted before it.
_TRAILING = ".,;:!?)"


def _normalize(text: str) -> str:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return _PARAGRAPH_BREAK.sub("\n\n", "\n".join(lines)).strip()


def _split_url(url: str) -> tuple[str, str]:
    """A pasted address and the punctuation after it: 'https://a.b/x).' → ('https://a.b/x', ').').
    A closing parenthesis stays when the address opened one (Wikipedia-style)."""
    end = len(url)
    while end and url[end - 1] in _TRAILING:
        if url[end - 1] == ")" and url[:end].count("(") >= url[:end].count(")"):
            break
        end -= 1
    return url[:end], url[end:]


def _line_html(line: str) -> str:
    parts: list[str] = []
    position = 0
    for match in _TOKEN.finditer(line):
        parts.append(escape(line[position : match.start()]))
        if match.group("url"):
            url, tail = _split_url(match.group("url"))
            parts.append(format_html('<a href="{}" rel="nofollow">{}</a>{}', url, url, tail))
        else:
            label, target = match.group("label").strip(), match.group("target")
            parts.append(format_html('<a href="{}" rel="nofollow">{}</a>', target, label))
        position = match.end()
    parts.append(escape(line[position:]))
    return "".join(parts)


def _paragraph_html(paragraph: str) -> str:
    """A paragraph's runs of bulleted lines as lists, its other lines as text."""
    blocks = []
    for bulleted, run in groupby(paragraph.split("\n"), key=lambda line: bool(_BULLET.match(line))):
        lines = list(run)
        if bulleted:
            items = "".join(f"<li>{_line_html(_BULLET.sub('', line))}</li>" for line in lines)
            blocks.append(f"<ul>{items}</ul>")
        else:
            blocks.append("<p>" + "<br>\n".join(_line_html(line) for line in lines) + "</p>")
    return "\n".join(blocks)


def answer_html(text: str) -> SafeString:
    """`text` as HTML that is safe to show: see the module docstring."""
    paragraphs = _normalize(text).split("\n\n") if text.strip() else []
    # Every piece of the author's text went through escape() or format_html(); the
    # sanitiser is the second line of defence, should a change here ever miss one.
    return clean_html("\n".join(_paragraph_html(p) for p in paragraphs))


def answer_plain(text: str) -> str:
    """`text` as a reader sees it, without markup: a link's text stays, its address goes
    (a pasted address stays as it is). What search matches and excerpts show."""

    def label(match: re.Match[str]) -> str:
        return match.group("label").strip() if match.group("label") else match.group(0)

    return _TOKEN.sub(label, _normalize(text))
