"""The wasmon Python SDK (vendored by `wasmon new`): subclass `Check`, implement `setup` and
`collect`; samples are batched and sent in one call per run; exceptions become the WIT
check-error variants."""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import emit, types


class ConfigError(Exception):
    """The configuration is wrong: the instance stops until its config changes."""


class TransientError(Exception):
    """Worth retrying at the next interval."""


class Output:
    """What one run produces; sent to the host in one batch when the run ends."""

    def __init__(self, timestamp_ms: int):
        self.timestamp_ms = timestamp_ms
        self.samples = []

    def _add(self, name, kind, value, tags):
        self.samples.append(types.Sample(name, kind, float(value), list(tags or [])))

    def gauge(self, name, value, tags=None):
        self._add(name, types.MetricKind.GAUGE, value, tags)

    def rate(self, name, value, tags=None):
        self._add(name, types.MetricKind.RATE, value, tags)

    def count(self, name, value, tags=None):
        self._add(name, types.MetricKind.COUNT, value, tags)

    def monotonic_count(self, name, value, tags=None):
        self._add(name, types.MetricKind.MONOTONIC_COUNT, value, tags)

    def service_check(self, name, status, message="", tags=None):
        emit.submit_service_check(types.ServiceCheck(name, status, message, list(tags or [])))

    def flush(self):
        if self.samples:
            emit.submit_samples(self.samples)
            self.samples = []


def read_file(path: str):
    """A granted file's text, or None when it cannot be read (the host says why in its log)."""
    from wit_world.imports import files

    [answer] = files.read([path])
    if isinstance(answer, Err):
        log(f"{path}: {answer.value}")
        return None
    return bytes(answer.value if hasattr(answer, "value") else answer).decode("utf-8", "replace")


def log(message: str, level=types.LogLevel.WARN):
    emit.log(level, message)


# componentize-py makes a new `Check` for every call into the component: the one `init`
# set up lives here.
_live = None


def _describe(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"


class Check(exports.Check):
    name = "check"
    version = "0.1.0"
    default_interval_secs = 15
    summary = ""

    def describe(self) -> types.Descriptor:
        return types.Descriptor(self.name, self.version, self.default_interval_secs, self.summary)

    def init(self, init_config: str, instance_config: str) -> None:
        global _live
        try:
            self.setup(json.loads(init_config or "null") or {}, json.loads(instance_config or "null") or {})
        except ConfigError as e:
            raise Err(types.CheckError_Config(str(e)))
        except Exception as e:
            raise Err(types.CheckError_Config(_describe(e)))
        _live = self

    def run(self, timestamp_ms: int) -> None:
        check = _live if _live is not None else self
        out = Output(timestamp_ms)
        try:
            check.collect(out)
        except ConfigError as e:
            raise Err(types.CheckError_Config(str(e)))
        except TransientError as e:
            raise Err(types.CheckError_Transient(str(e)))
        except Exception as e:
            # A bug in the check: reported, and tried again next interval.
            raise Err(types.CheckError_Transient(_describe(e)))
        finally:
            out.flush()

    def setup(self, init_config: dict, instance: dict) -> None:
        pass

    def collect(self, out: Output) -> None:
        raise NotImplementedError
