"""Sphinx configuration for the guide."""

import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

project = "Background tasks with Flask and Dramatiq"
author = "The guide's authors"
copyright = "2026, the guide's authors"

# docs/_ext holds this site's own extensions.
sys.path.insert(0, str(Path(__file__).parent / "_ext"))

extensions = [
    "accessibility",
    "descriptions",
    "example_folders",
    "measured",
    "same_for_both",
    "search_entries",
    "section_markers",
    "sphinx.ext.intersphinx",
    "sphinx_copybutton",
    "sphinx_tabs.tabs",
    "notfound.extension",
]

html_theme = "furo"
html_title = "Flask + Dramatiq"
html_static_path = ["_static"]
html_favicon = "_static/favicon.svg"
html_css_files = ["broker-tabs.css", "layout.css"]
html_js_files = ["broker-tabs.js", "tables.js", "sidebar.js"]
exclude_patterns = ["_build", "_inventories"]

# Every code block comes from examples/; their languages are set per block.
highlight_language = "none"

# Curly quotes and ellipses, but no dashes: "--processes 1" in a table cell
# must not turn into an en dash that a reader then copies.
smartquotes_action = "qe"

# A reader picks RabbitMQ or Redis once; a closed tab would hide every variant.
sphinx_tabs_disable_tab_closing = True

# Copy commands and code, never prompts, line numbers or program output
# (output blocks carry the "output" class).
copybutton_exclude = ".linenos, .gp, .go"
copybutton_selector = "div:not(.output) > div.highlight pre"

# Read the Docs says where the site lives and which repository it came from;
# a local build has neither, so it gets no sitemap and no "edit" links.
html_baseurl = os.environ.get("READTHEDOCS_CANONICAL_URL", "")
if html_baseurl:
    extensions.append("sphinx_sitemap")
    sitemap_url_scheme = "{link}"
# The 404 page links its assets absolutely: from where the site is served.
notfound_urls_prefix = urlsplit(html_baseurl).path or "/"
repository = os.environ.get("READTHEDOCS_GIT_CLONE_URL", "").removesuffix(".git")
html_theme_options = {"navigation_with_keys": True}
if repository.startswith("https://github.com/"):
    html_theme_options |= {
        "source_repository": repository,
        "source_branch": os.environ.get("READTHEDOCS_GIT_IDENTIFIER", "main"),
        "source_directory": "docs/",
    }

# Link to Python's, Flask's and Dramatiq's docs through inventories kept in
# docs/_inventories (`nox -s inventories` downloads them), so the build never
# needs the network. Without an inventory, its links are left out, silently.
_inventories = Path(__file__).parent / "_inventories"
intersphinx_mapping = {
    name: (url, str(_inventories / f"{name}.inv"))
    for name, url in {
        "python": "https://docs.python.org/3/",
        "flask": "https://flask.palletsprojects.com/en/stable/",
        "dramatiq": "https://dramatiq.io/",
    }.items()
    if (_inventories / f"{name}.inv").is_file()
}
