"""Hide the examples' section markers when a page includes a whole file.

Files in examples/ mark the parts a page shows with ``# [docs:<name>]`` and
``# [docs:<name>:end]`` comments (markers.py). A literalinclude with
``:start-after:`` and ``:end-before:`` leaves them out; one that shows the
whole file would show them, and the copy button would copy them. This
literalinclude drops them.
"""

from __future__ import annotations

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.directives.code import LiteralInclude
from sphinx.errors import ExtensionError

from markers import MARKER


class LiteralIncludeWithoutMarkers(LiteralInclude):
    def run(self) -> list[nodes.Node]:
        result = super().run()
        for block in (n for node in result for n in node.findall(nodes.literal_block)):
            shown = MARKER.sub("", block.rawsource)
            if shown == block.rawsource:
                continue
            if "emphasize-lines" in self.options:
                # The line numbers count the marker lines: fix the include.
                raise ExtensionError(
                    f"{self.get_location()}: emphasize-lines on a block that "
                    "shows section markers; include the section instead"
                )
            block.rawsource = shown
            block[:] = [nodes.Text(shown)]
        return result


def setup(app: Sphinx) -> dict[str, bool]:
    app.add_directive("literalinclude", LiteralIncludeWithoutMarkers, override=True)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
