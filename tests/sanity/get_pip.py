"""Offline stand-in for the get-pip.py that ansible-test downloads from ci-files.testing.ansible.com
(unreachable here): pip from the wheel Python bundles (ensurepip), then the version asked for, from the
package index. bin/setup puts it where ansible-test looks first (~/.ansible/test/cache/)."""

import subprocess
import sys

# In a child: ensurepip in this process would point PIP_CONFIG_FILE at /dev/null for what follows,
# dropping the host's pip settings (its CA bundle, its local indexes).
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"])
# get-pip.py's own flags; plain pip does not know them.
args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "pip", "install", *args])
