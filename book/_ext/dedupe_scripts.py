"""Drop repeated <script> entries from every page.

In a Jupyter Book 1 build, sphinx-thebe registers its inline configuration script
(``const THEBE_JS_URL = ...``) once per ``env-before-read-docs`` event, which fires more than
once; the page then declares the same ``const`` twice and the browser reports a SyntaxError.
Identical script entries carry no information, so keeping the first of each is safe.
"""

from __future__ import annotations


def _dedupe(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        # the same script may be registered twice, with filename None or "": compare by content
        attributes = getattr(script, "attributes", {})
        key = (getattr(script, "filename", None) or "", repr(sorted(attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app):
    app.connect("html-page-context", _dedupe, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
