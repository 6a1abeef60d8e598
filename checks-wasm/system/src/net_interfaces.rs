//! Interface attributes from /sys/class/net/<iface>: MTU, transmit queue length, carrier and
//! the number of queues, as Datadog's network check sends them (`iface:` tag).

use wasmon_sdk::{Output, files};

use crate::listed::{Listed, scope_of};

/// Files read per interface, and the metric each becomes (`carrier` is Datadog's `up`).
const ATTRIBUTES: [(&str, &str); 3] = [
    ("mtu", "system.net.iface.mtu"),
    ("tx_queue_len", "system.net.iface.tx_queue_len"),
    ("carrier", "system.net.iface.up"),
];

/// One file in each queue's folder (`rx-N/rps_cpus`, `tx-N/xps_cpus`): queues are folders,
/// and the files capability reads files.
pub const QUEUES: &str = "/sys/class/net/*/queues/*/*ps_cpus";

/// What one interface's files say.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Attributes {
    pub name: String,
    /// MTU, queue length and carrier, where readable (carrier is unreadable while down).
    pub values: [Option<f64>; 3],
    pub rx_queues: u32,
    pub tx_queues: u32,
}

/// Reads the attributes of `interfaces` in one host call; their queues are listed as
/// `queues_listed` says, and again when the interfaces change.
pub fn read(interfaces: &[&str], queues_listed: &mut Listed, now_ms: i64) -> Vec<Attributes> {
    let paths: Vec<String> = interfaces
        .iter()
        .flat_map(|i| ATTRIBUTES.map(|(file, _)| format!("/sys/class/net/{i}/{file}")))
        .collect();
    let values = files::read(&paths);
    let queues = queues_listed.paths(&[QUEUES], now_ms, scope_of(interfaces.iter().copied()));
    interfaces
        .iter()
        .zip(values.chunks(ATTRIBUTES.len()))
        .map(|(name, answers)| {
            let mut values = [None; 3];
            for (slot, answer) in values.iter_mut().zip(answers) {
                *slot = answer
                    .as_ref()
                    .ok()
                    .and_then(|b| std::str::from_utf8(b).ok()?.trim().parse().ok());
            }
            let (rx_queues, tx_queues) = count_queues(name, queues);
            Attributes {
                name: name.to_string(),
                values,
                rx_queues,
                tx_queues,
            }
        })
        .collect()
}

/// Receive and transmit queues of `iface` among the matched queue files.
fn count_queues(iface: &str, paths: &[String]) -> (u32, u32) {
    let prefix = format!("/sys/class/net/{iface}/queues/");
    let mut counts = (0, 0);
    for queue in paths.iter().filter_map(|p| p.strip_prefix(&prefix)) {
        if queue.starts_with("rx-") {
            counts.0 += 1;
        } else if queue.starts_with("tx-") {
            counts.1 += 1;
        }
    }
    counts
}

/// Emits `system.net.iface.*` gauges tagged `iface:<name>`.
pub fn emit(interfaces: &[Attributes], out: &mut Output) {
    for iface in interfaces {
        let tag = format!("iface:{}", iface.name);
        for ((_, metric), value) in ATTRIBUTES.iter().zip(iface.values) {
            if let Some(v) = value {
                out.gauge(metric, v, &[&tag]);
            }
        }
        out.gauge(
            "system.net.iface.num_rx_queues",
            f64::from(iface.rx_queues),
            &[&tag],
        );
        out.gauge(
            "system.net.iface.num_tx_queues",
            f64::from(iface.tx_queues),
            &[&tag],
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queues_are_counted_per_interface_and_direction() {
        let paths: Vec<String> = [
            "/sys/class/net/eth0/queues/rx-0/rps_cpus",
            "/sys/class/net/eth0/queues/rx-1/rps_cpus",
            "/sys/class/net/eth0/queues/tx-0/xps_cpus",
            "/sys/class/net/eth01/queues/tx-0/xps_cpus",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(count_queues("eth0", &paths), (2, 1));
        assert_eq!(count_queues("eth01", &paths), (0, 1));
    }

    #[test]
    fn unreadable_attributes_are_left_out() {
        let iface = Attributes {
            name: "eth0".into(),
            values: [Some(1500.0), Some(1000.0), None],
            rx_queues: 1,
            tx_queues: 1,
        };
        let mut out = Output::new(0);
        emit(&[iface], &mut out);
        let names: Vec<&str> = out.samples().iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "system.net.iface.mtu",
                "system.net.iface.tx_queue_len",
                "system.net.iface.num_rx_queues",
                "system.net.iface.num_tx_queues"
            ]
        );
        assert!(out.samples().iter().all(|s| s.tags == ["iface:eth0"]));
    }
}
