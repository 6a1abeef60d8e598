//! IP, TCP and UDP counters from /proc/net/snmp and /proc/net/netstat, under the names of
//! Datadog's network check.

use std::collections::HashMap;

use wasmon_sdk::{MetricKind, Output};

/// `(section, field)` → value, from files of `Section: names` / `Section: values` line pairs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counters(HashMap<(String, String), f64>);

/// `(section, field, metric)`, every one sent as a rate.
const RATES: [(&str, &str, &str); 56] = [
    ("Ip", "InReceives", "system.net.ip.in_receives"),
    ("Ip", "InHdrErrors", "system.net.ip.in_header_errors"),
    ("Ip", "InAddrErrors", "system.net.ip.in_addr_errors"),
    ("Ip", "InUnknownProtos", "system.net.ip.in_unknown_protos"),
    ("Ip", "InDiscards", "system.net.ip.in_discards"),
    ("Ip", "InDelivers", "system.net.ip.in_delivers"),
    ("Ip", "OutRequests", "system.net.ip.out_requests"),
    ("Ip", "OutDiscards", "system.net.ip.out_discards"),
    ("Ip", "OutNoRoutes", "system.net.ip.out_no_routes"),
    ("Ip", "ForwDatagrams", "system.net.ip.forwarded_datagrams"),
    ("Ip", "ReasmTimeout", "system.net.ip.reassembly_timeouts"),
    ("Ip", "ReasmReqds", "system.net.ip.reassembly_requests"),
    ("Ip", "ReasmOKs", "system.net.ip.reassembly_oks"),
    ("Ip", "ReasmFails", "system.net.ip.reassembly_fails"),
    ("Ip", "FragOKs", "system.net.ip.fragmentation_oks"),
    ("Ip", "FragFails", "system.net.ip.fragmentation_fails"),
    ("Ip", "FragCreates", "system.net.ip.fragmentation_creates"),
    ("IpExt", "InNoRoutes", "system.net.ip.in_no_routes"),
    (
        "IpExt",
        "InTruncatedPkts",
        "system.net.ip.in_truncated_pkts",
    ),
    ("IpExt", "InCsumErrors", "system.net.ip.in_csum_errors"),
    (
        "IpExt",
        "ReasmOverlaps",
        "system.net.ip.reassembly_overlaps",
    ),
    (
        "TcpExt",
        "IPReversePathFilter",
        "system.net.ip.reverse_path_filter",
    ),
    ("Tcp", "ActiveOpens", "system.net.tcp.active_opens"),
    ("Tcp", "PassiveOpens", "system.net.tcp.passive_opens"),
    ("Tcp", "AttemptFails", "system.net.tcp.attempt_fails"),
    ("Tcp", "EstabResets", "system.net.tcp.established_resets"),
    ("Tcp", "InSegs", "system.net.tcp.in_segs"),
    ("Tcp", "OutSegs", "system.net.tcp.out_segs"),
    ("Tcp", "RetransSegs", "system.net.tcp.retrans_segs"),
    ("Tcp", "InErrs", "system.net.tcp.in_errors"),
    ("Tcp", "OutRsts", "system.net.tcp.out_resets"),
    ("Tcp", "InCsumErrors", "system.net.tcp.in_csum_errors"),
    (
        "TcpExt",
        "ListenOverflows",
        "system.net.tcp.listen_overflows",
    ),
    ("TcpExt", "ListenDrops", "system.net.tcp.listen_drops"),
    ("TcpExt", "TCPBacklogDrop", "system.net.tcp.backlog_drops"),
    (
        "TcpExt",
        "TCPRetransFail",
        "system.net.tcp.failed_retransmits",
    ),
    ("TcpExt", "PruneCalled", "system.net.tcp.prune_called"),
    ("TcpExt", "RcvPruned", "system.net.tcp.prune_rcv_drops"),
    ("TcpExt", "OfoPruned", "system.net.tcp.prune_ofo_called"),
    (
        "TcpExt",
        "PAWSActive",
        "system.net.tcp.paws_connection_drops",
    ),
    (
        "TcpExt",
        "PAWSEstab",
        "system.net.tcp.paws_established_drops",
    ),
    (
        "TcpExt",
        "SyncookiesSent",
        "system.net.tcp.syn_cookies_sent",
    ),
    (
        "TcpExt",
        "SyncookiesRecv",
        "system.net.tcp.syn_cookies_recv",
    ),
    (
        "TcpExt",
        "SyncookiesFailed",
        "system.net.tcp.syn_cookies_failed",
    ),
    (
        "TcpExt",
        "TCPAbortOnTimeout",
        "system.net.tcp.abort_on_timeout",
    ),
    ("TcpExt", "TCPSynRetrans", "system.net.tcp.syn_retrans"),
    (
        "TcpExt",
        "TCPFromZeroWindowAdv",
        "system.net.tcp.from_zero_window",
    ),
    (
        "TcpExt",
        "TCPToZeroWindowAdv",
        "system.net.tcp.to_zero_window",
    ),
    ("TcpExt", "TWRecycled", "system.net.tcp.tw_reused"),
    ("Udp", "InDatagrams", "system.net.udp.in_datagrams"),
    ("Udp", "NoPorts", "system.net.udp.no_ports"),
    ("Udp", "InErrors", "system.net.udp.in_errors"),
    ("Udp", "OutDatagrams", "system.net.udp.out_datagrams"),
    ("Udp", "RcvbufErrors", "system.net.udp.rcv_buf_errors"),
    ("Udp", "SndbufErrors", "system.net.udp.snd_buf_errors"),
    ("Udp", "InCsumErrors", "system.net.udp.in_csum_errors"),
];

/// The gauge of established TCP connections, read beside the rates.
const ESTABLISHED: (&str, &str) = ("Tcp", "CurrEstab");

/// Parses any number of snmp-style files into one set of counters, keeping only those sent.
pub fn parse<'a>(texts: impl IntoIterator<Item = &'a str>) -> Counters {
    let mut counters = HashMap::new();
    for text in texts {
        let lines: Vec<(&str, &str)> = text.lines().filter_map(|l| l.split_once(':')).collect();
        let mut i = 0;
        while i + 1 < lines.len() {
            let ((section, names), (again, values)) = (lines[i], lines[i + 1]);
            if section != again {
                // A line without its partner: resynchronise on the next one.
                i += 1;
                continue;
            }
            // The fields sent from this section: a few dozen of its hundred or so.
            let wanted: Vec<&str> = RATES
                .iter()
                .map(|(s, f, _)| (*s, *f))
                .chain([ESTABLISHED])
                .filter(|(s, _)| *s == section)
                .map(|(_, f)| f)
                .collect();
            for (name, value) in names.split_whitespace().zip(values.split_whitespace()) {
                if !wanted.contains(&name) {
                    continue;
                }
                if let Ok(v) = value.parse() {
                    counters.insert((section.to_string(), name.to_string()), v);
                }
            }
            i += 2;
        }
    }
    Counters(counters)
}

/// Emits every known counter the kernel gave as a rate, and the established TCP connections.
pub fn emit(counters: &Counters, out: &mut Output) {
    let get = |section: &str, field: &str| {
        counters
            .0
            .get(&(section.to_string(), field.to_string()))
            .copied()
    };
    for (section, field, metric) in RATES {
        if let Some(v) = get(section, field) {
            out.sample(metric, MetricKind::Rate, v, &[]);
        }
    }
    if let Some(v) = get(ESTABLISHED.0, ESTABLISHED.1) {
        out.gauge("system.net.tcp.current_established", v, &[]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SNMP: &str = "Ip: Forwarding DefaultTTL InReceives InHdrErrors\nIp: 2 64 4655 1\n\
        Tcp: RtoAlgorithm ActiveOpens CurrEstab InSegs\nTcp: 1 29 3 7429\n\
        Udp: InDatagrams NoPorts\nUdp: 31 4\n";
    const NETSTAT: &str = "TcpExt: SyncookiesSent ListenDrops\nTcpExt: 0 7\n\
        IpExt: InNoRoutes InOctets\nIpExt: 2 185744994\n";

    #[test]
    fn both_files_become_rates_and_established_a_gauge() {
        let counters = parse([SNMP, NETSTAT]);
        let mut out = Output::new(0);
        emit(&counters, &mut out);
        let got: Vec<_> = out
            .samples()
            .iter()
            .map(|s| (s.name.as_str(), s.kind, s.value))
            .collect();
        assert!(got.contains(&("system.net.ip.in_receives", MetricKind::Rate, 4655.0)));
        assert!(got.contains(&("system.net.ip.in_header_errors", MetricKind::Rate, 1.0)));
        assert!(got.contains(&("system.net.tcp.listen_drops", MetricKind::Rate, 7.0)));
        assert!(got.contains(&("system.net.ip.in_no_routes", MetricKind::Rate, 2.0)));
        assert!(got.contains(&("system.net.udp.no_ports", MetricKind::Rate, 4.0)));
        assert!(got.contains(&("system.net.tcp.current_established", MetricKind::Gauge, 3.0)));
        assert_eq!(
            got.len(),
            10,
            "fields without a Datadog name are left out: {got:?}"
        );
    }

    #[test]
    fn a_torn_file_keeps_what_parses() {
        let counters = parse(["Ip: InReceives\nTcp: 5\nUdp: InDatagrams\nUdp: 9\nIp:"]);
        let mut out = Output::new(0);
        emit(&counters, &mut out);
        assert_eq!(out.samples().len(), 1);
        assert_eq!(out.samples()[0].name, "system.net.udp.in_datagrams");
    }
}
