//! The host's addresses: which IPv4 address the parties should use when `--ip` is not given.
//!
//! "Primary" means the address on the interface that holds the default route, read from
//! `/proc/net/route`; no packet is sent to find it.

use std::net::Ipv4Addr;

use anyhow::{Context, Result, bail};

const ROUTE_TABLE: &str = "/proc/net/route";

/// Interfaces whose addresses are never the host's address as other pods see it.
fn is_virtual_bridge(name: &str) -> bool {
    [
        "docker", "br-", "veth", "cni", "flannel", "virbr", "kube", "bridge",
    ]
    .iter()
    .any(|p| name.starts_with(p))
}

pub fn local_ipv4s() -> Result<Vec<(String, Ipv4Addr)>> {
    let addrs = if_addrs::get_if_addrs().context("listing network interfaces")?;
    Ok(addrs
        .into_iter()
        .filter_map(|a| match a.ip() {
            std::net::IpAddr::V4(v4) => Some((a.name, v4)),
            _ => None,
        })
        .collect())
}

/// The interface of the default route with the lowest metric, if the table has one.
pub fn default_route_interface(route_table: &str) -> Option<String> {
    route_table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            // Iface Destination Gateway Flags RefCnt Use Metric Mask ...
            if cols.len() < 8 || cols[1] != "00000000" || cols[7] != "00000000" {
                return None;
            }
            let metric: u64 = cols[6].parse().ok()?;
            Some((metric, cols[0].to_string()))
        })
        .min()
        .map(|(_, iface)| iface)
}

pub fn detect_primary_ipv4() -> Result<(Ipv4Addr, String)> {
    let candidates: Vec<_> = local_ipv4s()?
        .into_iter()
        .filter(|(_, ip)| !ip.is_loopback() && !ip.is_link_local())
        .collect();
    let route = std::fs::read_to_string(ROUTE_TABLE).unwrap_or_default();
    if let Some(iface) = default_route_interface(&route)
        && let Some((name, ip)) = candidates.iter().find(|(n, _)| *n == iface)
    {
        return Ok((*ip, name.clone()));
    }
    match candidates.iter().find(|(n, _)| !is_virtual_bridge(n)) {
        Some((name, ip)) => Ok((*ip, name.clone())),
        None => bail!("no interface has a non-loopback IPv4 address"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_default_route_with_the_lowest_metric() {
        let table = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
                     wlan0\t00000000\t0102A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0\n\
                     eth0\t00000000\t010200C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n\
                     docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n";
        assert_eq!(default_route_interface(table).as_deref(), Some("eth0"));
        assert_eq!(default_route_interface("Iface\tDestination\n"), None);
    }

    #[test]
    fn bridges_are_not_candidates() {
        assert!(is_virtual_bridge("docker0"));
        assert!(is_virtual_bridge("br-1234"));
        assert!(!is_virtual_bridge("eth0"));
        assert!(!is_virtual_bridge("enp3s0"));
    }
}
