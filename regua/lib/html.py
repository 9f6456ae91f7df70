"""HTML that came from people, made safe to put in a page; HTML e-mails read as text.

Régua's pages show what people wrote (notes, ticket messages, descriptions) as text,
escaped by Django's templates. The few places that show HTML built from someone's text
(the help centre's answers) pass it through `clean_html` last, an allowlist sanitiser
(nh3, the Python binding of Rust's Ammonia): whatever the markup code missed, no script,
event handler, style or javascript:/data: link reaches the page. Incoming HTML e-mails
become text with `html_to_text` before anyone sees them.
"""

import html as html_entities
import re

import nh3
from django.utils.safestring import SafeString, mark_safe

# Enough for formatted text: paragraphs, lists, emphasis, links, quotes, code, headings.
TAGS = frozenset(
    {
        "p", "br", "a", "ul", "ol", "li", "strong", "em", "b", "i", "u", "s", "blockquote",
        "code", "pre", "h2", "h3", "h4", "hr",
    }
)  # fmt: skip
ATTRIBUTES = {"a": {"href", "title"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
# Where an e-mail's markup ends a line, and where it ends a paragraph, for html_to_text.
_LINE_END = re.compile(r"<br\s*/?>|</(?:li|tr)\s*>", re.I)
_PARAGRAPH_END = re.compile(r"</(?:p|div|h[1-6]|blockquote|pre|table|ul|ol)\s*>", re.I)
_BLANK_LINES = re.compile(r"\n[ \t\r\f\v]*\n(?:[ \t\r\f\v]*\n)+")


def clean_html(markup: str) -> SafeString:
    """`markup` with only TAGS, links to http, https and mailto (rel=nofollow), no
    attributes but a link's address and title, no comments: safe to show as HTML."""
    cleaned = nh3.clean(
        markup,
        tags=set(TAGS),
        attributes={tag: set(names) for tag, names in ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel="nofollow",
        strip_comments=True,
    )
    return mark_safe(cleaned)  # noqa: S308  (nh3 left nothing but the allowlist)


def html_to_text(markup: str) -> str:
    """An HTML e-mail's text, as a reader would see it: line and paragraph breaks kept,
    tags gone, scripts and styles gone with their content, entities decoded."""
    with_breaks = _LINE_END.sub(lambda match: match.group(0) + "\n", markup)
    with_breaks = _PARAGRAPH_END.sub(lambda match: match.group(0) + "\n\n", with_breaks)
    text = html_entities.unescape(nh3.clean(with_breaks, tags=set(), strip_comments=True))
    return _BLANK_LINES.sub("\n\n", text).strip()
