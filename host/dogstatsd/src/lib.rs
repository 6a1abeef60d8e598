//! The DogStatsD datagram protocol, as the Datadog agent reads it: metric lines
//! `name:value[:value…]|type[|@rate][|#tags][|T<unix>][|c:…]`, events
//! `_e{title_len,text_len}:title|text[|d:…][|h:…][|k:…][|p:…][|s:…][|t:…][|#…]` and service
//! checks `_sc|name|status[|d:…][|h:…][|#…][|m:…]`. Lines borrow from the datagram; nothing
//! is allocated but an event's unescaped text. Unknown optional fields are ignored, as the
//! agent does, so newer clients' fields (`e:`, `card:`) pass.
//!
//! Its own crate so that this hot path, with the context keys lines are aggregated by
//! ([`Contexts`]), is compiled optimised in every profile (a line costs a few hundred
//! instructions at the agent's opt-level 1, a fraction at 3). Its iterators are concrete types
//! for the same reason: a generic one would be compiled in the caller, at the caller's level.

mod contexts;

pub use contexts::{Contexts, Full, Slot};

/// Longest metric name accepted (the agent's rule for every name).
pub const MAX_NAME_LEN: usize = 200;
/// Most tags one line may carry.
pub const MAX_TAGS: usize = 64;
/// Longest tag accepted.
pub const MAX_TAG_LEN: usize = 200;

/// How a metric line's values are aggregated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricType {
    /// `c`: summed, sent as a per-second rate.
    Count,
    /// `g`: the last value.
    Gauge,
    /// `h`: summarised (aggregates and percentiles).
    Histogram,
    /// `ms`: a histogram of milliseconds.
    Timing,
    /// `s`: the number of distinct values.
    Set,
    /// `d`: a sketch kept for global percentiles.
    Distribution,
}

impl MetricType {
    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "c" => Self::Count,
            "g" => Self::Gauge,
            "h" => Self::Histogram,
            "ms" => Self::Timing,
            "s" => Self::Set,
            "d" => Self::Distribution,
            _ => return None,
        })
    }
}

/// One metric line.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricLine<'a> {
    /// Its name.
    pub name: &'a str,
    /// Its values: `:`-separated numbers, or a set's one member.
    pub values: &'a str,
    /// Its type.
    pub kind: MetricType,
    /// The first value (a set's is 0).
    pub value: f64,
    /// The client's sample rate, in (0, 1].
    pub sample_rate: f64,
    /// Its tags, `,`-separated (`host:` among them overrides the host).
    pub tags: &'a str,
    /// Unix seconds the client gave it (`|T`), to send it unaggregated.
    pub timestamp: Option<i64>,
}

impl<'a> MetricLine<'a> {
    /// The numeric values (a set's member is not one of them), each checked by the parser.
    pub fn numbers(&self) -> Numbers<'a> {
        match find(self.values, b':') {
            None => Numbers {
                first: Some(self.value),
                rest: Split::empty(),
            },
            Some(_) => Numbers {
                first: None,
                rest: Split::new(self.values, b':'),
            },
        }
    }
}

/// A metric line's values: see [`MetricLine::numbers`].
pub struct Numbers<'a> {
    first: Option<f64>,
    rest: Split<'a>,
}

impl Iterator for Numbers<'_> {
    type Item = f64;

    fn next(&mut self) -> Option<f64> {
        if let Some(first) = self.first.take() {
            return Some(first);
        }
        loop {
            let value = self.rest.next()?;
            if let Some(n) = number(value).filter(|_| !value.is_empty()) {
                return Some(n);
            }
        }
    }
}

/// One event line, its title and text unescaped.
#[derive(Debug, Clone, PartialEq)]
pub struct EventLine<'a> {
    /// Title.
    pub title: String,
    /// Text.
    pub text: String,
    /// `d:` unix seconds.
    pub timestamp: Option<i64>,
    /// `h:` the host it is about.
    pub host: Option<&'a str>,
    /// `k:`
    pub aggregation_key: Option<&'a str>,
    /// `p:` `normal` or `low`.
    pub priority: Option<&'a str>,
    /// `s:`
    pub source_type_name: Option<&'a str>,
    /// `t:` `error`, `warning`, `info` or `success`.
    pub alert_type: Option<&'a str>,
    /// `#` tags, `,`-separated.
    pub tags: &'a str,
}

/// One service check line.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceCheckLine<'a> {
    /// Name.
    pub name: &'a str,
    /// 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
    pub status: u8,
    /// `d:` unix seconds.
    pub timestamp: Option<i64>,
    /// `h:` the host it is about.
    pub host: Option<&'a str>,
    /// `#` tags, `,`-separated.
    pub tags: &'a str,
    /// `m:` the message, the rest of the line.
    pub message: &'a str,
}

/// A line of a datagram.
#[derive(Debug, Clone, PartialEq)]
pub enum Line<'a> {
    /// A metric.
    Metric(MetricLine<'a>),
    /// An event.
    Event(EventLine<'a>),
    /// A service check.
    ServiceCheck(ServiceCheckLine<'a>),
}

/// Why a line was refused; each is counted under its [`reason`](Self::reason).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum ParseError {
    /// Not UTF-8.
    #[error("the line is not UTF-8")]
    NotUtf8,
    /// `name:value|type` is not there.
    #[error("expected name:value|type")]
    NoType,
    /// An empty name, or one with characters a metric name cannot have.
    #[error("the name is empty or has characters other than A-Z a-z 0-9 . _ -")]
    BadName,
    /// A value that is not a finite number.
    #[error("a value is not a finite number")]
    BadValue,
    /// A type other than c, g, h, ms, s, d.
    #[error("the type is not one of c, g, h, ms, s, d")]
    BadType,
    /// A sample rate outside (0, 1].
    #[error("the sample rate is not a number in (0, 1]")]
    BadSampleRate,
    /// A `T` or `d:` timestamp that is not a positive whole number of seconds, or on a type
    /// that cannot be sent unaggregated.
    #[error("the timestamp is not a positive number of seconds, or not on a gauge or count")]
    BadTimestamp,
    /// Too many tags, or one too long or with control characters.
    #[error("too many tags, or a tag too long or with control characters")]
    BadTags,
    /// An event whose header or lengths do not fit.
    #[error("an event needs _e{{title_len,text_len}}:title|text with those byte lengths")]
    BadEvent,
    /// A service check without a name or with a status other than 0–3.
    #[error("a service check needs _sc|name|status with status 0, 1, 2 or 3")]
    BadServiceCheck,
}

impl ParseError {
    /// Every reason, in the order [`index`](Self::index) numbers them.
    pub const ALL: [Self; 10] = [
        Self::NotUtf8,
        Self::NoType,
        Self::BadName,
        Self::BadValue,
        Self::BadType,
        Self::BadSampleRate,
        Self::BadTimestamp,
        Self::BadTags,
        Self::BadEvent,
        Self::BadServiceCheck,
    ];

    /// Its position in [`ALL`](Self::ALL).
    pub fn index(self) -> usize {
        self as usize
    }

    /// The `reason:` tag it is counted under.
    pub fn reason(self) -> &'static str {
        match self {
            Self::NotUtf8 => "not_utf8",
            Self::NoType => "no_type",
            Self::BadName => "bad_name",
            Self::BadValue => "bad_value",
            Self::BadType => "bad_type",
            Self::BadSampleRate => "bad_sample_rate",
            Self::BadTimestamp => "bad_timestamp",
            Self::BadTags => "bad_tags",
            Self::BadEvent => "bad_event",
            Self::BadServiceCheck => "bad_service_check",
        }
    }
}

/// The lines of a datagram, each as it came and parsed or refused; empty lines are skipped.
/// A datagram that is UTF-8 throughout is checked once, not line by line.
pub fn lines(datagram: &[u8]) -> Lines<'_> {
    Lines {
        datagram,
        text: std::str::from_utf8(datagram).ok(),
        newlines: memchr::memchr_iter(b'\n', datagram),
        at: 0,
    }
}

/// The lines of a datagram: see [`lines`]. A concrete type, so that its loop is compiled here,
/// optimised, whatever the caller's profile.
pub struct Lines<'a> {
    datagram: &'a [u8],
    /// The datagram, when it is UTF-8 throughout.
    text: Option<&'a str>,
    /// Where its newlines are: one vectorised scan of the whole datagram.
    newlines: memchr::Memchr<'a>,
    /// Where the next line starts.
    at: usize,
}

impl<'a> Iterator for Lines<'a> {
    type Item = (&'a [u8], Result<Line<'a>, ParseError>);

    fn next(&mut self) -> Option<Self::Item> {
        while self.at < self.datagram.len() {
            let start = self.at;
            let end = self.newlines.next().unwrap_or(self.datagram.len());
            self.at = end + 1;
            let end = if end > start && self.datagram[end - 1] == b'\r' {
                end - 1
            } else {
                end
            };
            if end == start {
                continue;
            }
            let raw = &self.datagram[start..end];
            // Cut at ASCII bytes, a UTF-8 datagram's lines are UTF-8: checked once.
            let text = match self.text {
                Some(text) => text.get(start..end),
                None => std::str::from_utf8(raw).ok(),
            };
            return Some((raw, text.ok_or(ParseError::NotUtf8).and_then(line)));
        }
        None
    }
}

/// One line.
pub fn line(text: &str) -> Result<Line<'_>, ParseError> {
    if text.as_bytes().first() == Some(&b'_') {
        if let Some(rest) = text.strip_prefix("_e{") {
            return event(rest).map(Line::Event);
        }
        if let Some(rest) = text.strip_prefix("_sc|") {
            return service_check(rest).map(Line::ServiceCheck);
        }
    }
    metric(text).map(Line::Metric)
}

fn metric(text: &str) -> Result<MetricLine<'_>, ParseError> {
    // One pass finds the name's end and checks its bytes.
    let bytes = text.as_bytes();
    let name_end = bytes
        .iter()
        .position(|b| !NAME_BYTE[usize::from(*b)])
        .ok_or(ParseError::NoType)?;
    let named = bytes[name_end] == b':';
    let mut fields = Split::new(&text[name_end..], b'|');
    let head = fields.next().unwrap_or_default();
    let kind = fields.next().ok_or(ParseError::NoType)?;
    if !named {
        // Not `name:`: either no value at all, or a name with a byte a name cannot have.
        return Err(match find(head, b':') {
            None => ParseError::NoType,
            Some(_) => match MetricType::parse(kind) {
                None => ParseError::BadType,
                Some(_) => ParseError::BadName,
            },
        });
    }
    let (name, values) = (&text[..name_end], &head[1..]);
    let kind = MetricType::parse(kind).ok_or(ParseError::BadType)?;
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err(ParseError::BadName);
    }
    if values.is_empty() {
        return Err(ParseError::BadValue);
    }
    let mut line = MetricLine {
        name,
        values,
        kind,
        value: 0.0,
        sample_rate: 1.0,
        tags: "",
        timestamp: None,
    };
    for field in fields {
        if let Some(rate) = field.strip_prefix('@') {
            line.sample_rate = rate
                .parse::<f64>()
                .ok()
                .filter(|r| *r > 0.0 && *r <= 1.0)
                .ok_or(ParseError::BadSampleRate)?;
        } else if let Some(tags) = field.strip_prefix('#') {
            line.tags = tags;
        } else if let Some(ts) = field.strip_prefix('T') {
            if !matches!(kind, MetricType::Gauge | MetricType::Count) {
                return Err(ParseError::BadTimestamp);
            }
            line.timestamp = Some(seconds(ts)?);
        }
        // `c:` (container), `e:` (external data), `card:` and any newer field: ignored.
    }
    if kind != MetricType::Set {
        let mut values = Split::new(values, b':').filter(|v| !v.is_empty());
        line.value = values.next().and_then(number).ok_or(ParseError::BadValue)?;
        for value in values {
            number(value).ok_or(ParseError::BadValue)?;
        }
    }
    check_tags(line.tags)?;
    Ok(line)
}

fn event(rest: &str) -> Result<EventLine<'_>, ParseError> {
    let (lengths, body) = rest.split_once("}:").ok_or(ParseError::BadEvent)?;
    let (title_len, text_len) = lengths.split_once(',').ok_or(ParseError::BadEvent)?;
    let title_len: usize = title_len.parse().map_err(|_| ParseError::BadEvent)?;
    let text_len: usize = text_len.parse().map_err(|_| ParseError::BadEvent)?;
    let text_end = title_len
        .checked_add(1)
        .and_then(|n| n.checked_add(text_len))
        .ok_or(ParseError::BadEvent)?;
    if title_len == 0
        || body.len() < text_end
        || body.as_bytes().get(title_len) != Some(&b'|')
        || !body.is_char_boundary(title_len)
        || !body.is_char_boundary(text_end)
    {
        return Err(ParseError::BadEvent);
    }
    let mut event = EventLine {
        title: unescape(&body[..title_len]),
        text: unescape(&body[title_len + 1..text_end]),
        timestamp: None,
        host: None,
        aggregation_key: None,
        priority: None,
        source_type_name: None,
        alert_type: None,
        tags: "",
    };
    let rest = &body[text_end..];
    if !rest.is_empty() && !rest.starts_with('|') {
        return Err(ParseError::BadEvent);
    }
    for field in rest.split('|').skip(1) {
        if let Some(d) = field.strip_prefix("d:") {
            event.timestamp = Some(seconds(d)?);
        } else if let Some(h) = field.strip_prefix("h:") {
            event.host = Some(h);
        } else if let Some(k) = field.strip_prefix("k:") {
            event.aggregation_key = Some(k);
        } else if let Some(p) = field.strip_prefix("p:") {
            // The agent logs and ignores an unknown priority or alert type.
            event.priority = ["normal", "low"].contains(&p).then_some(p);
        } else if let Some(s) = field.strip_prefix("s:") {
            event.source_type_name = Some(s);
        } else if let Some(t) = field.strip_prefix("t:") {
            event.alert_type = ["error", "warning", "info", "success"]
                .contains(&t)
                .then_some(t);
        } else if let Some(tags) = field.strip_prefix('#') {
            event.tags = tags;
        }
    }
    check_tags(event.tags)?;
    Ok(event)
}

fn service_check(rest: &str) -> Result<ServiceCheckLine<'_>, ParseError> {
    // The message is the rest of the line: it may hold `|`.
    let (head, message) = match rest.split_once("|m:") {
        Some((head, message)) => (head, message),
        None => (rest, ""),
    };
    let mut fields = head.split('|');
    let name = fields.next().unwrap_or_default();
    let status = match fields.next() {
        Some(s @ ("0" | "1" | "2" | "3")) => s.as_bytes()[0] - b'0',
        _ => return Err(ParseError::BadServiceCheck),
    };
    if !valid_name(name) {
        return Err(ParseError::BadName);
    }
    let mut check = ServiceCheckLine {
        name,
        status,
        timestamp: None,
        host: None,
        tags: "",
        message,
    };
    for field in fields {
        if let Some(d) = field.strip_prefix("d:") {
            check.timestamp = Some(seconds(d)?);
        } else if let Some(h) = field.strip_prefix("h:") {
            check.host = Some(h);
        } else if let Some(tags) = field.strip_prefix('#') {
            check.tags = tags;
        }
    }
    check_tags(check.tags)?;
    Ok(check)
}

/// The tags of a `#` field, empty ones skipped.
pub fn tags(field: &str) -> Tags<'_> {
    Tags(Split::new(field, b','))
}

/// The tags of a `#` field: see [`tags`].
pub struct Tags<'a>(Split<'a>);

impl<'a> Iterator for Tags<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        self.0.by_ref().find(|t| !t.is_empty())
    }
}

/// Where ASCII `byte` first is in `text`: a plain loop, which on these short fields beats
/// `memchr`'s vector set-up.
fn find(text: &str, byte: u8) -> Option<usize> {
    text.as_bytes().iter().position(|b| *b == byte)
}

/// A text split at each ASCII separator: a byte scan, cheaper on these short fields than
/// `str::split`'s searcher. Slicing at an ASCII byte always falls on a char boundary. Concrete,
/// so that it is compiled here, optimised, whatever the caller's profile.
struct Split<'a> {
    rest: Option<&'a str>,
    separator: u8,
}

impl<'a> Split<'a> {
    fn new(text: &'a str, separator: u8) -> Self {
        Self {
            rest: Some(text),
            separator,
        }
    }

    fn empty() -> Self {
        Self {
            rest: None,
            separator: 0,
        }
    }
}

impl<'a> Iterator for Split<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let current = self.rest?;
        match find(current, self.separator) {
            Some(i) => {
                self.rest = current.get(i + 1..);
                current.get(..i)
            }
            None => {
                self.rest = None;
                Some(current)
            }
        }
    }
}

/// At most [`MAX_TAGS`] tags, none longer than [`MAX_TAG_LEN`], no control character. The
/// common field (short, few commas) is settled by loops without early exits, which the
/// compiler vectorises; only a long one is walked tag by tag.
fn check_tags(field: &str) -> Result<(), ParseError> {
    let bytes = field.as_bytes();
    let control = bytes
        .iter()
        .fold(false, |seen, b| seen | (*b < 0x20) | (*b == 0x7f));
    // C1 controls (U+0080 to U+009F) are two bytes: looked for only outside ASCII.
    if control || (!field.is_ascii() && field.chars().any(char::is_control)) {
        return Err(ParseError::BadTags);
    }
    let commas = bytes.iter().filter(|b| **b == b',').count();
    if bytes.len() <= MAX_TAG_LEN && commas < MAX_TAGS {
        return Ok(());
    }
    let mut count = 0;
    for tag in field.split(',').filter(|t| !t.is_empty()) {
        count += 1;
        if count > MAX_TAGS || tag.len() > MAX_TAG_LEN {
            return Err(ParseError::BadTags);
        }
    }
    Ok(())
}

/// The bytes a metric name may hold: A-Z a-z 0-9 . _ -
const NAME_BYTE: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || c == b'.' || c == b'_' || c == b'-';
        b += 1;
    }
    table
};

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name.bytes().all(|b| NAME_BYTE[usize::from(b)])
}

/// A finite number; whole numbers of a few digits, what counters send most, without the
/// general float parser.
fn number(text: &str) -> Option<f64> {
    let bytes = text.as_bytes();
    if !bytes.is_empty() && bytes.len() <= 9 && bytes.iter().all(u8::is_ascii_digit) {
        let whole = bytes.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
        return Some(f64::from(whole));
    }
    text.parse::<f64>().ok().filter(|v| v.is_finite())
}

fn seconds(text: &str) -> Result<i64, ParseError> {
    text.parse::<i64>()
        .ok()
        .filter(|s| *s > 0 && *s < i64::MAX / 1000)
        .ok_or(ParseError::BadTimestamp)
}

/// `\n` written as two characters back to a newline, as clients escape it.
fn unescape(text: &str) -> String {
    text.replace("\\n", "\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metric_of(text: &str) -> MetricLine<'_> {
        match line(text) {
            Ok(Line::Metric(m)) => m,
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn metric_lines_with_every_field() {
        let m = metric_of("page.views:1|c");
        assert_eq!(
            (m.name, m.values, m.kind),
            ("page.views", "1", MetricType::Count)
        );
        assert_eq!((m.sample_rate, m.tags, m.timestamp), (1.0, "", None));
        let m = metric_of("req.time:1.5:2:3|ms|@0.5|#env:prod,,role:web|c:abc|e:x|card:low");
        assert_eq!(m.kind, MetricType::Timing);
        assert_eq!(m.sample_rate, 0.5);
        assert_eq!(tags(m.tags).collect::<Vec<_>>(), ["env:prod", "role:web"]);
        let values: Vec<f64> = m.numbers().collect();
        assert_eq!(values, [1.5, 2.0, 3.0]);
        let m = metric_of("temp:21.5|g|#room:a|T1700000000");
        assert_eq!(m.timestamp, Some(1_700_000_000));
        let m = metric_of("users.uniq:user:42|s");
        assert_eq!(m.values, "user:42", "a set's member may hold colons");
        for kind in ["h", "d"] {
            assert!(matches!(line(&format!("x:1|{kind}")), Ok(Line::Metric(_))));
        }
        assert_eq!(
            metric_of("neg:-3e2|g").numbers().collect::<Vec<_>>(),
            [-300.0]
        );
        assert_eq!(
            metric_of("gaps:1::2|h").numbers().collect::<Vec<_>>(),
            [1.0, 2.0]
        );
    }

    #[test]
    fn refusals_name_their_reason() {
        let cases = [
            ("nocolon", ParseError::NoType),
            ("x:1", ParseError::NoType),
            (":1|c", ParseError::BadName),
            ("has space:1|c", ParseError::BadName),
            ("x:|c", ParseError::BadValue),
            ("x:abc|c", ParseError::BadValue),
            ("x:1:nan|h", ParseError::BadValue),
            ("x:inf|g", ParseError::BadValue),
            ("x:1|q", ParseError::BadType),
            ("x:1|c|@0", ParseError::BadSampleRate),
            ("x:1|c|@1.5", ParseError::BadSampleRate),
            ("x:1|c|@x", ParseError::BadSampleRate),
            ("x:1|c|Tabc", ParseError::BadTimestamp),
            ("x:1|h|T1700000000", ParseError::BadTimestamp),
            ("x:1|c|#a\u{7}b", ParseError::BadTags),
            ("_e{0,1}:|x", ParseError::BadEvent),
            ("_e{5,9}:title|short", ParseError::BadEvent),
            ("_e{x,1}:a|b", ParseError::BadEvent),
            ("_e{99999999999999999999,1}:a|b", ParseError::BadEvent),
            ("_e{1,18446744073709551615}:a|b", ParseError::BadEvent),
            ("_sc|name|4", ParseError::BadServiceCheck),
            ("_sc|name", ParseError::BadServiceCheck),
            ("_sc||0", ParseError::BadName),
        ];
        for (text, reason) in cases {
            assert_eq!(line(text).err(), Some(reason), "{text}");
        }
        let many = (0..65)
            .map(|i| format!("t:{i}"))
            .collect::<Vec<_>>()
            .join(",");
        assert_eq!(
            line(&format!("x:1|c|#{many}")).err(),
            Some(ParseError::BadTags)
        );
    }

    #[test]
    fn events_by_byte_length_with_escapes_and_fields() {
        let title = "déploiement";
        let text = "line one\\nline two";
        let raw = format!(
            "_e{{{},{}}}:{title}|{text}|d:1700000000|h:web-2|k:deploy|p:low|s:jenkins|t:warning|#a:1,b",
            title.len(),
            text.len()
        );
        let Ok(Line::Event(e)) = line(&raw) else {
            panic!("{raw}")
        };
        assert_eq!(e.title, title);
        assert_eq!(e.text, "line one\nline two");
        assert_eq!(e.timestamp, Some(1_700_000_000));
        assert_eq!(e.host, Some("web-2"));
        assert_eq!(e.aggregation_key, Some("deploy"));
        assert_eq!(e.priority, Some("low"));
        assert_eq!(e.source_type_name, Some("jenkins"));
        assert_eq!(e.alert_type, Some("warning"));
        assert_eq!(e.tags, "a:1,b");
        let Ok(Line::Event(e)) = line("_e{2,3}:hi|abc|p:urgent|t:bad") else {
            panic!()
        };
        assert_eq!(
            (e.priority, e.alert_type),
            (None, None),
            "unknown values are ignored"
        );
        assert_eq!(
            line("_e{2,2}:hé|ab").err(),
            Some(ParseError::BadEvent),
            "a length that splits a character"
        );
    }

    #[test]
    fn service_checks_keep_pipes_in_their_message() {
        let Ok(Line::ServiceCheck(c)) =
            line("_sc|app.up|2|d:1700000000|h:db-1|#env:prod|m:down | really")
        else {
            panic!()
        };
        assert_eq!((c.name, c.status), ("app.up", 2));
        assert_eq!((c.timestamp, c.host), (Some(1_700_000_000), Some("db-1")));
        assert_eq!((c.tags, c.message), ("env:prod", "down | really"));
        let Ok(Line::ServiceCheck(c)) = line("_sc|app.up|0") else {
            panic!()
        };
        assert_eq!((c.status, c.message), (0, ""));
    }

    #[test]
    fn a_datagram_keeps_its_good_lines() {
        let datagram = b"a:1|c\nbroken\n\nb:2|g\r\n\xff\xfe:1|c\nc:3|h\n";
        let parsed: Vec<_> = lines(datagram).map(|(_, p)| p).collect();
        assert_eq!(parsed.len(), 5);
        assert_eq!(
            lines(datagram).nth(1).map(|(raw, _)| raw),
            Some(&b"broken"[..])
        );
        assert_eq!(parsed[1].as_ref().err(), Some(&ParseError::NoType));
        assert_eq!(parsed[3].as_ref().err(), Some(&ParseError::NotUtf8));
        assert!(matches!(&parsed[2], Ok(Line::Metric(m)) if m.name == "b"));
        assert_eq!(
            ParseError::ALL.len(),
            ParseError::BadServiceCheck.index() + 1
        );
    }

    proptest::proptest! {
        /// Arbitrary bytes never panic, and what a line yields is never larger than the
        /// datagram it came from.
        #[test]
        fn arbitrary_datagrams_are_parsed_or_refused(datagram in proptest::collection::vec(proptest::num::u8::ANY, 0..2048)) {
            for (_, parsed) in lines(&datagram) {
                if let Ok(Line::Event(e)) = parsed {
                    proptest::prop_assert!(e.title.len() + e.text.len() <= datagram.len());
                }
            }
        }

        /// Lines built from the protocol's own pieces, shuffled, never panic either.
        #[test]
        fn protocol_shaped_lines_are_parsed_or_refused(
            pieces in proptest::collection::vec(
                proptest::sample::select(vec![
                    "a.b", ":", "|", "c", "g", "h", "ms", "s", "d", "@", "0.5", "#", "k:v", ",",
                    "T", "1700000000", "_e{", "}", "_sc", "m:", "h:", "d:", "1", "-2.5e3", "\\n",
                    "é", "\n", "2,3", "99999999999999999999",
                ]),
                0..40,
            )
        ) {
            let datagram = pieces.concat();
            let _ = lines(datagram.as_bytes()).count();
        }
    }
}
