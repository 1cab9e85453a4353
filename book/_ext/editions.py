"""The English and the Chinese edition of the book, from the same sources.

The Chinese edition is the English one built with ``language = 'zh_CN'`` and the message
catalogues under ``locales/`` (Sphinx's gettext workflow; ``make catalogues`` updates them).
This extension adds what gettext alone does not do:

- a link at the top of every page to the same page in the other edition (the editions are
  sibling folders, ``_build/html`` and ``_build/html-zh``, so the link is relative and works
  offline);
- the alternative text of the figures, which myst-nb takes from a code cell's metadata
  (``mystnb.image.alt``) and Sphinx does not extract: the gettext build adds each alt text to
  the page's catalogue, and a translated build replaces it from there;
- the book's title and the search box's text in Chinese for the Chinese edition.
"""

from __future__ import annotations

import json
import os
import posixpath
import uuid
from os import path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.locale import init as init_locale
from sphinx.util.i18n import docname_to_domain

#: language -> (output folder, name of the edition in its own language)
EDITIONS = {"en": ("html", "English"), "zh_CN": ("html-zh", "中文")}
TITLES = {"zh_CN": "可执行的循环神经网络"}
SEARCH = {"zh_CN": "在本书中搜索……"}


def _language(app: Sphinx) -> str:
    return app.config.language or "en"


def _other(app: Sphinx) -> str:
    return "en" if _language(app).startswith("zh") else "zh_CN"


def glossary_terms(srcdir: str) -> list[str]:
    """The Chinese terms of the glossary: the term lines of book/glossary.md that are not
    ASCII."""
    text = open(path.join(srcdir, "book", "glossary.md"), encoding="utf-8").read()
    body = text.split("```{glossary}", 1)[1].split("\n```", 1)[0]
    terms = (line.strip() for line in body.splitlines() if line and not line[0].isspace())
    return [t for t in terms if not t.startswith(":") and not t.isascii()]


def config_inited(app: Sphinx, config) -> None:
    lang = _language(app)
    if lang in TITLES:
        config.html_title = TITLES[lang]
        options = dict(config.html_theme_options or {})
        options["search_bar_text"] = SEARCH[lang]
        config.html_theme_options = options
    if lang.startswith("zh"):
        # jieba cuts the Chinese text into words for the search index; it would cut a term
        # such as 遗忘门 into 遗忘 and 门, so the glossary's terms are its user dictionary
        os.makedirs(app.doctreedir, exist_ok=True)
        words = path.join(app.doctreedir, "glossary-terms.txt")
        with open(words, "w", encoding="utf-8") as f:
            for term in glossary_terms(app.srcdir):
                for word in term.replace("／", " ").split():
                    f.write(f"{word} 100000 n\n")
        config.html_search_options = {**(config.html_search_options or {}), "dict": words}


def alt_texts(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """gettext: add each figure's alt text to the page's messages; other languages: translate
    the alt text of each image. The gettext builder renders a notebook's outputs as text (no
    image nodes), so the alt texts are read there from the cells' metadata."""
    if app.builder.name == "gettext":
        source = str(app.env.doc2path(docname))
        if not source.endswith(".ipynb"):
            return
        with open(source, encoding="utf-8") as f:
            cells = json.load(f)["cells"]
        for k, cell in enumerate(cells):
            alt = cell.get("metadata", {}).get("mystnb", {}).get("image", {}).get("alt")
            if alt:
                para = nodes.paragraph(alt, alt)
                para.source, para.line = source, (k + 1) * 10000
                para.uid = uuid.uuid4().hex  # the gettext builder keeps only nodes with one
                doctree.append(para)
        return
    images = [n for n in doctree.findall(nodes.image) if n.get("alt")]
    if not images or _language(app) == "en":
        return
    domain = docname_to_domain(docname, app.config.gettext_compact)
    dirs = [path.join(app.srcdir, d) for d in app.config.locale_dirs]
    catalog, has_catalog = init_locale(dirs, app.config.language, domain)
    if not has_catalog:
        return
    for image in images:
        translated = catalog.gettext(image["alt"])
        if translated:
            image["alt"] = translated


def glossary_chinese_first(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """In the Chinese edition, each glossary entry names its Chinese term first: the same
    table seen from the other side."""
    if not _language(app).startswith("zh"):
        return
    from sphinx import addnodes

    for glossary in doctree.findall(addnodes.glossary):
        for item in glossary.findall(nodes.definition_list_item):
            terms = [n for n in item.children if isinstance(n, nodes.term)]
            if not terms:
                continue
            first = item.index(terms[0])
            ordered = sorted(terms, key=lambda t: t.astext().isascii())  # stable: Chinese first
            for k, term in enumerate(ordered):
                item.children[first + k] = term


def switch_link(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    """A link to the same page in the other edition, at the top of the page's body."""
    if "body" not in context:
        return
    folder, label = EDITIONS[_other(app)]
    depth = pagename.count("/") + 1  # up from the page to the edition's folder, and one more
    href = posixpath.join(*([".."] * depth), folder, pagename + ".html")
    lang = "zh-Hans" if _other(app).startswith("zh") else "en"
    link = (
        f'<p class="edition-switch" style="text-align: right; font-size: 0.9em">'
        f'<a href="{href}" hreflang="{lang}" lang="{lang}">'
        f"{label}</a></p>\n"
    )
    context["body"] = link + context["body"]


def setup(app: Sphinx) -> dict:
    app.connect("config-inited", config_inited)
    app.connect("doctree-resolved", alt_texts)
    app.connect("doctree-resolved", glossary_chinese_first)
    app.connect("html-page-context", switch_link)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
