"""{{name}}: counts the lines of a log file by level (ERROR, WARNING, INFO, DEBUG)."""

import wasmon_check
from wasmon_check import ConfigError, Output, TransientError

LEVELS = ("ERROR", "WARNING", "INFO", "DEBUG")


def count_levels(text: str) -> dict:
    """Lines per level; a line counts for the first level word it contains."""
    counts = {level: 0 for level in LEVELS}
    for line in text.splitlines():
        for level in LEVELS:
            if level in line or (level == "WARNING" and "WARN" in line):
                counts[level] += 1
                break
    return counts


class Check(wasmon_check.Check):
    name = "{{name}}"
    version = "0.1.0"
    default_interval_secs = 15
    summary = "log lines by level"

    def setup(self, init_config: dict, instance: dict) -> None:
        self.path = instance.get("path")
        if not isinstance(self.path, str):
            raise ConfigError("expected the log file's path", field="instance.path")

    def collect(self, out: Output) -> None:
        text = wasmon_check.read_file(self.path)
        if text is None:
            raise TransientError(f"cannot read {self.path}")
        for level, count in count_levels(text).items():
            out.gauge("{{name}}.lines", count, [f"level:{level.lower()}"])
        for line in text.splitlines():
            out.histogram("{{name}}.line_bytes", len(line.encode()))
