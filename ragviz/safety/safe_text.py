"""Showing text a user can set (names, file names, table cells, checkpoint metadata) as plain text.

Streamlit renders markdown (links, images, ``$`` maths, ``:color[…]`` directives) in
``st.markdown``, captions, alerts and widget labels; Plotly renders a subset of HTML
(``<a href>``, ``<b>``, ``<br>``) in hover text, tick labels, legends and titles. A name
like ``![x](http://host/beacon)`` or ``<a href=…>`` must show as those characters,
never as an image, a link or a tag: every such string goes through one of these two
functions on its way to the screen.
"""

from __future__ import annotations

import html
import re
import string
import unicodedata
from typing import Any

#: Unicode categories never drawn as themselves: controls, format characters (bidi
#: controls, zero-width characters), lone surrogates, line and paragraph separators.
HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})

#: Characters with no meaning in CommonMark, GFM or Streamlit's markdown, left as they are
#: so escaped messages stay readable in tests and logs.
_MD_INERT = "'\",;?%/=@"
#: Every other ASCII punctuation character is backslash-escaped (CommonMark allows that for
#: all of them): this turns off emphasis, code, links, images, autolinks (``www.`` and
#: ``http:``), HTML, entities, headings, lists, tables, maths (``$``) and Streamlit's
#: ``:directive[…]``, ``:material/…:`` and emoji-shortcode syntax at once.
_MD_SPECIAL = re.compile("([" + re.escape("".join(c for c in string.punctuation if c not in _MD_INERT)) + "])")


#: Where GFM would turn plain text into a link even when every punctuation mark is escaped
#: (it finds ``www.``, ``http://`` and e-mail addresses in the text after escapes are
#: resolved); a word joiner (U+2060, invisible) in front keeps such text a plain word.
_AUTOLINK = re.compile(r"(?i)(?=https?://|www\.|mailto:|xmpp:|@[\w-]+\.)")
WORD_JOINER = "\u2060"


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def without_lone_surrogates(text: str) -> str:
    """``text`` with each lone surrogate (half of a UTF-16 pair, not a character) replaced by U+FFFD.

    Loaders apply it to text a file carries (a checkpoint's stored texts and class names): such a
    string cannot be encoded for the browser, so one of them would crash every page that shows it.
    """
    return _LONE_SURROGATE.sub(REPLACEMENT, text)


def char_code(ch: str) -> str:
    """``U+200B ZERO WIDTH SPACE``: how a message names a character it cannot show."""
    name = unicodedata.name(ch, "")
    return f"U+{ord(ch):04X}" + (f" {name}" if name else "")


def visible(text: Any, keep_newlines: bool = False) -> str:
    """``text`` with every hidden character written as ``\\u200b``: one can see it, and it can be sent.

    A lone surrogate cannot even be encoded for the browser, and a bidi override would
    reorder the text around it, so neither is ever passed through.
    """
    out = []
    for ch in str(text):
        if (keep_newlines and ch == "\n") or unicodedata.category(ch) not in HIDDEN_CATEGORIES:
            out.append(ch)
        else:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    return "".join(out)


def md_escape(text: Any) -> str:
    """``text`` as markdown that displays exactly its characters (line breaks kept as breaks).

    Links never start in it: see :data:`_AUTOLINK` for the one invisible character added.
    """
    plain = _AUTOLINK.sub(WORD_JOINER, visible(str(text).replace("\r\n", "\n"), keep_newlines=True))
    return _MD_SPECIAL.sub(r"\\\1", plain).replace("\n", "  \n")


def html_text(text: Any) -> str:
    """``text`` for Plotly's HTML-like text (hover, labels, legends): tags and entities shown literally."""
    return html.escape(visible(text), quote=False)
