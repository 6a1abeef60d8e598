//! Per-interface traffic from /proc/net/dev, sent as rates.

use wasmon_sdk::Output;

/// Counters of one interface.
#[derive(Debug, Clone, PartialEq)]
pub struct Interface {
    pub name: String,
    /// Bytes, packets, errors, drops received.
    pub rx: [f64; 4],
    /// Bytes, packets, errors, drops sent.
    pub tx: [f64; 4],
}

/// Parses /proc/net/dev, skipping its two header lines.
pub fn parse(text: &str) -> Vec<Interface> {
    text.lines()
        .filter_map(|line| {
            let (name, rest) = line.split_once(':')?;
            let v: Vec<f64> = rest
                .split_ascii_whitespace()
                .filter_map(|f| f.parse().ok())
                .collect();
            if v.len() < 12 {
                return None;
            }
            Some(Interface {
                name: name.trim().to_string(),
                rx: [v[0], v[1], v[2], v[3]],
                tx: [v[8], v[9], v[10], v[11]],
            })
        })
        .collect()
}

/// Emits Datadog's `system.net.*` rates tagged `device:` and `device_name:` (the interface).
pub fn emit(interfaces: &[Interface], config: &crate::Instance, out: &mut Output) {
    const RX: [&str; 4] = [
        "system.net.bytes_rcvd",
        "system.net.packets_in.count",
        "system.net.packets_in.error",
        "system.net.packets_in.drop",
    ];
    const TX: [&str; 4] = [
        "system.net.bytes_sent",
        "system.net.packets_out.count",
        "system.net.packets_out.error",
        "system.net.packets_out.drop",
    ];
    for iface in interfaces
        .iter()
        .filter(|i| config.wants_interface(&i.name))
    {
        let device = format!("device:{}", iface.name);
        let device_name = format!("device_name:{}", iface.name);
        for (names, values) in [(RX, iface.rx), (TX, iface.tx)] {
            for (name, value) in names.iter().zip(values) {
                out.rate(name, value, &[&device, &device_name]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NET_DEV: &str = "Inter-|   Receive          |  Transmit\n \
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n\
    lo:    3193      29    0    0    0     0          0         0     3193      29    0    0    0     0       0          0\n\
  eth0: 159646521    7362    1    2    0     0          0         0   476957    5250    3    4    0     0       0          0\n";

    #[test]
    fn parses_every_interface() {
        let ifaces = parse(NET_DEV);
        assert_eq!(ifaces.len(), 2);
        assert_eq!(ifaces[1].name, "eth0");
        assert_eq!(ifaces[1].rx, [159646521.0, 7362.0, 1.0, 2.0]);
        assert_eq!(ifaces[1].tx, [476957.0, 5250.0, 3.0, 4.0]);
    }

    #[test]
    fn excluded_interfaces_are_skipped() {
        let config = crate::Instance {
            excluded_interfaces: vec!["lo".into()],
            ..Default::default()
        };
        let mut out = Output::new(0);
        emit(&parse(NET_DEV), &config, &mut out);
        assert_eq!(out.samples().len(), 8);
        assert!(
            out.samples()
                .iter()
                .all(|s| s.tags == ["device:eth0", "device_name:eth0"])
        );
    }
}
