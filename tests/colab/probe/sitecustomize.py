"""Watches, in `make test-colab`, for the modules that the Colab replica leaves out.

The replica lacks a few packages of Colab's list (requirements-colab.txt says which and why).
`make test-colab` puts this folder on PYTHONPATH, so that Python imports this module as it starts,
in the harness, in each page's kernel and in every process a page starts. Whenever code looks for
one of those modules, whether it would have found it or not, the module's name and the file that
asked are appended to $COLAB_REPLICA_PROBE_LOG, and conftest.py fails the run. A page that never
looks for them behaves on the replica as it would with them installed, as on Colab.
"""

import os
import sys
import traceback

ABSENT = [name for name in os.environ.get("COLAB_REPLICA_ABSENT_MODULES", "").split(",") if name]
LOG = os.environ.get("COLAB_REPLICA_PROBE_LOG")


class AbsentModuleProbe:
    """A meta path finder that finds nothing: it notes the search and lets the import go on."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if LOG and any(name == module or name.startswith(module + ".") for module in ABSENT):
            asker = next((frame.filename for frame in reversed(traceback.extract_stack())
                          if "importlib" not in frame.filename and frame.filename != __file__), "?")
            with open(LOG, "a", encoding="utf-8") as log:
                log.write(f"{name} (looked for by {asker}, pid {os.getpid()})\n")
        return None


sys.meta_path.insert(0, AbsentModuleProbe())
