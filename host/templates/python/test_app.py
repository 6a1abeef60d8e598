"""The check's logic, natively: `python3 -m unittest test_app`."""

import sys
import types
import unittest

# The bindings exist only inside the component: stand-ins let the logic be imported.
for name in ("wasmon_check",):
    stub = types.ModuleType(name)
    stub.Check = object
    stub.ConfigError = stub.TransientError = Exception
    stub.Output = object
    sys.modules[name] = stub

from app import count_levels  # noqa: E402


class CountLevels(unittest.TestCase):
    def test_each_line_counts_once(self):
        text = "x ERROR a\ny WARN b\nz INFO c\nINFO ERROR d\nplain\n"
        self.assertEqual(count_levels(text), {"ERROR": 2, "WARNING": 1, "INFO": 1, "DEBUG": 0})


if __name__ == "__main__":
    unittest.main()
