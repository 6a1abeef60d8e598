"""The wasmon Python SDK (vendored by `wasmon new`): subclass `Check`, implement `setup` and
`collect`; samples are batched and sent in one call per run; exceptions become the WIT
check-error variants."""

import json

try:
    from componentize_py_types import Err
except ImportError:
    # Natively, in the check's unit tests: the host as `wasmon_testing` stands in for it.
    from wasmon_testing import Err, emit, exports, files, types
else:
    from wit_world import exports
    from wit_world.imports import emit, types

    try:
        from wit_world.imports import files
    except ImportError:
        files = None  # a world without the files capability


class ConfigError(Exception):
    """The configuration is wrong: the instance stops until its config changes. `field` names
    the offending field, its section first (`instance.path`)."""

    def __init__(self, message: str, field: str = None):
        super().__init__(message)
        self.field = field


class TransientError(Exception):
    """Worth retrying at the next interval."""


class Output:
    """What one run produces; sent to the host in one batch when the run ends."""

    def __init__(self, timestamp_ms: int):
        self.timestamp_ms = timestamp_ms
        self.samples = []

    def _add(self, name, kind, value, tags, timestamp_ms=None):
        self.samples.append(types.Sample(name, kind, float(value), list(tags or []), timestamp_ms))

    def gauge(self, name, value, tags=None):
        self._add(name, types.MetricKind.GAUGE, value, tags)

    def rate(self, name, value, tags=None):
        self._add(name, types.MetricKind.RATE, value, tags)

    def count(self, name, value, tags=None):
        self._add(name, types.MetricKind.COUNT, value, tags)

    def monotonic_count(self, name, value, tags=None):
        self._add(name, types.MetricKind.MONOTONIC_COUNT, value, tags)

    def histogram(self, name, value, tags=None):
        """One value of the run's histogram: the host sends `.avg .median .max .95percentile
        .count` of the run."""
        self._add(name, types.MetricKind.HISTOGRAM, value, tags)

    def distribution(self, name, value, tags=None):
        """One value of a sketch: sent as such to Datadog, as the histogram's summaries elsewhere."""
        self._add(name, types.MetricKind.DISTRIBUTION, value, tags)

    def set(self, name, member, tags=None):
        """One member of a set (a number): the host sends how many distinct members the run saw."""
        self._add(name, types.MetricKind.SET, member, tags)

    def gauge_at(self, name, value, timestamp_ms, tags=None):
        """A value measured at its own time (Unix milliseconds, within an hour of the run's)."""
        self._add(name, types.MetricKind.GAUGE, value, tags, int(timestamp_ms))

    def event(self, title, text, alert_type="info", tags=None, aggregation_key=None, priority="normal"):
        """Something that happened: `alert_type` is info, warning, error or success."""
        emit.submit_event(
            types.Event(
                title,
                text,
                None,
                _member(types.EventPriority, priority),
                _member(types.AlertType, alert_type),
                aggregation_key,
                None,
                list(tags or []),
            )
        )

    def service_check(self, name, status, message="", tags=None):
        emit.submit_service_check(types.ServiceCheck(name, status, message, list(tags or [])))

    def flush(self):
        if self.samples:
            emit.submit_samples(self.samples)
            self.samples = []


def read_file(path: str):
    """A granted file's text, or None when it cannot be read (the host says why in its log)."""
    [answer] = files.read([path])
    if isinstance(answer, Err):
        log(f"{path}: {answer.value}")
        return None
    return bytes(answer.value if hasattr(answer, "value") else answer).decode("utf-8", "replace")


def read_matching(pattern: str, max_bytes: int = 1 << 20):
    """`(path, text)` of every granted file matching `pattern` (a glob such as
    `/proc/[0-9]*/stat`), at most `max_bytes` of each; files that vanish meanwhile are left out.
    Raises TransientError when the pattern itself is refused."""
    try:
        found = files.read_matching(pattern, max_bytes)
    except Err as e:
        raise TransientError(f"{pattern}: {e.value}")
    return [(f.path, bytes(f.content).decode("utf-8", "replace")) for f in found]


def log(message: str, level=types.LogLevel.WARN):
    emit.log(level, message)


# componentize-py makes a new `Check` for every call into the component: the one `init`
# set up lives here.
_live = None


def _describe(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"


def _member(enum, value):
    """`value` as a member of `enum`: a member already, or its name in any case."""
    return value if isinstance(value, enum) else enum[str(value).upper()]


def _config_error(error: ConfigError):
    return types.CheckError_Config(types.ConfigError(error.field, str(error)))


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
            raise Err(_config_error(e))
        except Exception as e:
            raise Err(types.CheckError_Config(types.ConfigError(None, _describe(e))))
        _live = self

    def run(self, timestamp_ms: int) -> None:
        check = _live if _live is not None else self
        out = Output(timestamp_ms)
        try:
            check.collect(out)
        except ConfigError as e:
            raise Err(_config_error(e))
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
