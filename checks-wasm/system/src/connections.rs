//! TCP connections by state and UDP sockets, from /proc/net/{tcp,tcp6,udp,udp6}: Datadog's
//! `collect_connection_state`, off by default (a busy host has many sockets to count).

use wasmon_sdk::Output;

/// The files, in the order [`Connections::parse`] takes them.
pub const FILES: [&str; 4] = [
    "/proc/net/tcp",
    "/proc/net/tcp6",
    "/proc/net/udp",
    "/proc/net/udp6",
];

/// Datadog's state groups, in the order of [`Tcp::states`].
const STATES: [&str; 5] = [
    "established",
    "opening",
    "closing",
    "listening",
    "time_wait",
];

/// TCP sockets per state group.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tcp {
    pub states: [u32; 5],
}

/// Sockets of both families.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Connections {
    pub tcp4: Tcp,
    pub tcp6: Tcp,
    pub udp4: u32,
    pub udp6: u32,
}

impl Connections {
    /// Parses the four files' texts, in [`FILES`] order.
    pub fn parse(tcp4: &str, tcp6: &str, udp4: &str, udp6: &str) -> Self {
        Self {
            tcp4: tcp(tcp4),
            tcp6: tcp(tcp6),
            udp4: sockets(udp4).count() as u32,
            udp6: sockets(udp6).count() as u32,
        }
    }
}

/// The socket lines after the header.
fn sockets(text: &str) -> impl Iterator<Item = &str> {
    text.lines().skip(1).filter(|l| !l.trim().is_empty())
}

/// The kernel's state codes (include/net/tcp_states.h) grouped as Datadog groups them.
fn group(code: &str) -> Option<usize> {
    Some(match code {
        "01" => 0,
        "02" | "03" => 1,
        "04" | "05" | "07" | "08" | "09" | "0B" => 2,
        "0A" => 3,
        "06" => 4,
        _ => return None,
    })
}

fn tcp(text: &str) -> Tcp {
    let mut t = Tcp::default();
    for line in sockets(text) {
        if let Some(i) = line.split_whitespace().nth(3).and_then(group) {
            t.states[i] += 1;
        }
    }
    t
}

/// Emits `system.net.tcp{4,6}.<state>` and `system.net.udp{4,6}.connections` gauges.
pub fn emit(c: &Connections, out: &mut Output) {
    for (family, tcp) in [("tcp4", &c.tcp4), ("tcp6", &c.tcp6)] {
        for (state, n) in STATES.iter().zip(tcp.states) {
            out.gauge(&format!("system.net.{family}.{state}"), f64::from(n), &[]);
        }
    }
    out.gauge("system.net.udp4.connections", f64::from(c.udp4), &[]);
    out.gauge("system.net.udp6.connections", f64::from(c.udp6), &[]);
}

#[cfg(test)]
mod tests {
    use super::*;

    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue\n\
   0: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0\n\
   1: 0100007F:96A4 0100007F:8165 06 00000000:00000000 03:000008CA 00000000     0\n\
   2: 0100007F:96A5 0100007F:8165 01 00000000:00000000 03:000008CA 00000000     0\n\
   3: 0100007F:96A6 0100007F:8165 02 00000000:00000000 03:000008CA 00000000     0\n\
   4: 0100007F:96A7 0100007F:8165 08 00000000:00000000 03:000008CA 00000000     0\n";

    #[test]
    fn states_are_grouped_as_datadog_groups_them() {
        let header = "  sl  local_address\n";
        let c = Connections::parse(TCP, header, "h\n 1: x\n 2: y\n", header);
        assert_eq!(c.tcp4.states, [1, 1, 1, 1, 1]);
        assert_eq!(c.tcp6.states, [0; 5]);
        assert_eq!((c.udp4, c.udp6), (2, 0));
        let mut out = Output::new(0);
        emit(&c, &mut out);
        assert_eq!(out.samples().len(), 12);
        let listening = out
            .samples()
            .iter()
            .find(|s| s.name == "system.net.tcp4.listening")
            .unwrap();
        assert_eq!(listening.value, 1.0);
    }
}
