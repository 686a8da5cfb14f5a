"""Sphinx configuration: renders the tutorials with their stored outputs."""

import tomllib
from pathlib import Path

with open(Path(__file__).resolve().parent.parent / "pyproject.toml", "rb") as file:
    _settings = tomllib.load(file)["tool"]["jax-mnist-tutorials"]

project = "jax-mnist-tutorials"
author = "jax-mnist-tutorials contributors"

extensions = ["myst_nb"]
html_theme = "sphinx_book_theme"
html_title = "JAX MNIST tutorials"
html_theme_options = {
    "repository_url": f"https://github.com/{_settings['github-repo']}",
    "repository_branch": "main",
    "use_repository_button": True,
    # A rocket button on each page opens its notebook in Colab.
    "launch_buttons": {"colab_url": "https://colab.research.google.com"},
}

# The docs render the notebooks' stored outputs, those of a real run (`make outputs`), and never
# re-execute them.
nb_execution_mode = "off"
nb_merge_streams = True

# The source dir is the repository root (`sphinx-build -c docs . build/html`), so
# that the notebooks' relative links (`02_....ipynb`) resolve in the docs as they
# do on GitHub and in Colab. Only these files are pages:
root_doc = "docs/index"
include_patterns = ["docs/*.md", "notebooks/*.ipynb"]
exclude_patterns = ["**.ipynb_checkpoints"]
templates_path = ["_templates"]
html_static_path = ["_static"]
html_css_files = ["code-column.css"]
html_additional_pages = {"index": "redirect.html"}  # build/html/index.html -> docs/index.html
myst_enable_extensions = ["dollarmath"]
nitpicky = False
