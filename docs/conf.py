"""Sphinx configuration for the guide."""

project = "Background tasks with Flask and Dramatiq"
author = "The guide's authors"
copyright = "2026, the guide's authors"

extensions = ["sphinx_tabs.tabs", "sphinx_copybutton"]

html_theme = "furo"
html_title = project
exclude_patterns = ["_build"]

# Every code block comes from examples/; their languages are set per block.
highlight_language = "none"

# A reader picks RabbitMQ or Redis once; a closed tab would hide every variant.
sphinx_tabs_disable_tab_closing = True

# Copy commands, never the prompt or the output shown with them.
copybutton_exclude = ".linenos, .gp, .go"
