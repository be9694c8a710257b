"""Imported first by every bench script, before anything else is imported.

Python puts a script's own folder first on ``sys.path``, and this folder holds ``inspect.py``
(the inspection benchmark), which would then shadow the standard library's ``inspect`` that
numpy, asyncio and dataclasses import. This moves the folder to the end of the path, where
``import common`` still finds the shared helpers.
"""

import os
import sys

_here = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]
sys.path.append(_here)
