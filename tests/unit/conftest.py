"""Unit tests import the module's pure core straight from module_utils/, without Ansible."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "module_utils"))
