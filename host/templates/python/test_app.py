"""The check, natively: `python3 -m unittest test_app`. Outside a component the SDK talks to
`wasmon_testing`, which stands in for the host."""

import unittest

import wasmon_testing as host
from app import Check, count_levels
from wasmon_testing import Err


class CountLevels(unittest.TestCase):
    def test_each_line_counts_once(self):
        text = "x ERROR a\ny WARN b\nz INFO c\nINFO ERROR d\nplain\n"
        self.assertEqual(count_levels(text), {"ERROR": 2, "WARNING": 1, "INFO": 1, "DEBUG": 0})


class Run(unittest.TestCase):
    def setUp(self):
        self.check = Check()
        self.check.init("{}", '{"path": "/var/log/app.log"}')

    def test_a_run_reads_the_granted_file(self):
        host.put_file("/var/log/app.log", "x ERROR a\ny WARN b\nz ERROR c\n")
        self.check.run(1000)
        lines = {s.tags[0]: s.value for s in host.take_samples() if s.name == "{{name}}.lines"}
        self.assertEqual(lines["level:error"], 2)
        self.assertEqual(lines["level:warning"], 1)

    def test_a_missing_file_fails_the_run_for_now(self):
        host.remove_file("/var/log/app.log")
        with self.assertRaises(Err) as failed:
            self.check.run(1000)
        self.assertIn("cannot read /var/log/app.log", failed.exception.value.value)

    def test_a_config_without_a_path_names_the_field(self):
        with self.assertRaises(Err) as refused:
            Check().init("{}", "{}")
        self.assertEqual(refused.exception.value.value.field, "instance.path")


if __name__ == "__main__":
    unittest.main()
