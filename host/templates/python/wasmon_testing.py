"""The host as a check's unit tests see it (vendored by `wasmon new`): outside a component,
`wasmon_check` takes its bindings from here. Files a test puts are what `read_file` and
`read_matching` read; what a run submits and logs is kept for `take_samples`,
`take_service_checks`, `take_events` and `take_logs`.

    import wasmon_testing as host
    host.put_file("/var/log/app.log", "x ERROR a\\n")
    check = Check(); check.init("{}", '{"path": "/var/log/app.log"}'); check.run(1000)
    host.take_samples()
"""

import fnmatch
from dataclasses import dataclass, field
from enum import Enum
from types import SimpleNamespace
from typing import List, Optional


class Err(Exception):
    """A WIT `result` error, as componentize-py raises and returns it."""

    def __init__(self, value):
        super().__init__(value)
        self.value = value


class MetricKind(Enum):
    GAUGE = 0
    COUNT = 1
    RATE = 2
    MONOTONIC_COUNT = 3
    HISTOGRAM = 4
    DISTRIBUTION = 5
    SET = 6


class EventPriority(Enum):
    NORMAL = 0
    LOW = 1


class AlertType(Enum):
    INFO = 0
    WARNING = 1
    ERROR = 2
    SUCCESS = 3


class Status(Enum):
    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3


class LogLevel(Enum):
    TRACE = 0
    DEBUG = 1
    INFO = 2
    WARN = 3
    ERROR = 4


@dataclass
class Sample:
    name: str
    kind: MetricKind
    value: float
    tags: List[str]
    timestamp_ms: Optional[int] = None


@dataclass
class Event:
    title: str
    text: str
    timestamp_ms: Optional[int]
    priority: EventPriority
    alert_type: AlertType
    aggregation_key: Optional[str]
    source_type_name: Optional[str]
    tags: List[str] = field(default_factory=list)


@dataclass
class ServiceCheck:
    name: str
    status: Status
    message: str
    tags: List[str]


@dataclass
class ConfigError:
    field: Optional[str]
    message: str


@dataclass
class CheckError_Config:
    value: ConfigError


@dataclass
class CheckError_Transient:
    value: str


@dataclass
class CheckError_Permanent:
    value: str


@dataclass
class Descriptor:
    name: str
    version: str
    default_interval_secs: int
    summary: str


@dataclass
class MatchedFile:
    path: str
    content: bytes


types = SimpleNamespace(
    MetricKind=MetricKind,
    EventPriority=EventPriority,
    AlertType=AlertType,
    Status=Status,
    LogLevel=LogLevel,
    Sample=Sample,
    Event=Event,
    ServiceCheck=ServiceCheck,
    ConfigError=ConfigError,
    CheckError_Config=CheckError_Config,
    CheckError_Transient=CheckError_Transient,
    CheckError_Permanent=CheckError_Permanent,
    Descriptor=Descriptor,
)

exports = SimpleNamespace(Check=object)

_files = {}
_samples = []
_service_checks = []
_events = []
_logs = []
_metadata = []


def put_file(path: str, content):
    """Makes `path` readable with `content` (text or bytes)."""
    _files[path] = content.encode() if isinstance(content, str) else bytes(content)


def remove_file(path: str):
    """Makes `path` unreadable, as a missing or ungranted file is."""
    _files.pop(path, None)


def _take(kept: list) -> list:
    taken = list(kept)
    kept.clear()
    return taken


def take_samples() -> List[Sample]:
    """The samples submitted since the last call."""
    return _take(_samples)


def take_service_checks() -> List[ServiceCheck]:
    """The service checks submitted since the last call."""
    return _take(_service_checks)


def take_events() -> List[Event]:
    """The events submitted since the last call."""
    return _take(_events)


def take_logs() -> list:
    """`(level, message)` logged since the last call."""
    return _take(_logs)


def _read(paths):
    return [
        _files[p] if p in _files else Err(f"{p}: No such file or directory (os error 2)")
        for p in paths
    ]


def _read_matching(pattern: str, max_bytes: int):
    depth = pattern.count("/")
    return [
        MatchedFile(path, content[:max_bytes])
        for path, content in sorted(_files.items())
        if path.count("/") == depth and fnmatch.fnmatchcase(path, pattern)
    ]


files = SimpleNamespace(read=_read, read_matching=_read_matching)

emit = SimpleNamespace(
    submit_samples=_samples.extend,
    submit_service_check=_service_checks.append,
    submit_event=_events.append,
    log=lambda level, message: _logs.append((level, message)),
    set_metadata=lambda key, value: _metadata.append((key, value)),
)
