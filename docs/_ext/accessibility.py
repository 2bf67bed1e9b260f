"""Fix what axe-core finds critical or serious in the theme's HTML.

- Sphinx marks each toctree caption (the sidebar's "The guide", "Real
  apps", ...) as ``role="heading"`` without the ``aria-level`` that role
  requires, so screen readers cannot place it in the page's outline.
- A code block wider than the screen scrolls sideways; a reader without a
  mouse can scroll it only if it takes the keyboard focus.
"""

from __future__ import annotations

from sphinx.application import Sphinx

CAPTION = 'class="caption" role="heading"'
CODE = '<div class="highlight"><pre>'


def fix(html: str) -> str:
    return html.replace(CAPTION, f'{CAPTION} aria-level="2"').replace(
        CODE, '<div class="highlight"><pre tabindex="0">'
    )


def fix_page(app: Sphinx, page: str, template: str, context: dict, doctree) -> None:
    # furo builds its navigation in a handler of its own, at the default
    # priority: this one runs after it.
    for key in ("body", "furo_navigation_tree"):
        if isinstance(context.get(key), str):
            context[key] = fix(context[key])


def setup(app: Sphinx) -> dict[str, bool]:
    app.connect("html-page-context", fix_page, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
