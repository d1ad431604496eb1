//! The IANA service-name and port-number registry, dev-tool default ports and the browsers'
//! bad ports, compiled in by `build.rs` from `data/` and searched by binary search.

use serde::Serialize;

/// A transport protocol as IANA lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IanaProto {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// SCTP.
    Sctp,
    /// DCCP.
    Dccp,
}

/// What an IANA row says about its ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IanaStatus {
    /// Assigned to a service.
    Assigned,
    /// Reserved (or another note IANA keeps without a service name).
    Reserved,
    /// Listed as unassigned.
    Unassigned,
    /// De-registered, removed, deprecated or decommissioned: free for the policy, but shown.
    Historical,
}

/// A piece of `IANA_TEXT`: byte offset and length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span(u32, u32);

impl Span {
    fn get(self) -> &'static str {
        let (start, len) = (self.0 as usize, self.1 as usize);
        IANA_TEXT.get(start..start + len).unwrap_or_default()
    }
}

/// One row of the IANA table (a single port or a range, one protocol).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IanaRow {
    /// First port.
    pub lo: u16,
    /// Last port.
    pub hi: u16,
    /// Protocol.
    pub proto: IanaProto,
    /// Status.
    pub status: IanaStatus,
    service: Span,
    description: Span,
    registered: Span,
}

impl IanaRow {
    /// Service name (empty unless assigned).
    pub fn service(&self) -> &'static str {
        self.service.get()
    }
    /// IANA's description.
    pub fn description(&self) -> &'static str {
        self.description.get()
    }
    /// Registration date (`YYYY-MM` or `YYYY-MM-DD`), may be empty.
    pub fn registered(&self) -> &'static str {
        self.registered.get()
    }
}

/// The tables `build.rs` generates from `data/`.
#[allow(clippy::unreadable_literal)] // generated numbers
mod tables {
    use super::{IanaProto, IanaRow, IanaStatus, Span};
    include!(concat!(env!("OUT_DIR"), "/tables.rs"));
}
use tables::{BAD_PORTS, DEV_TOOLS, IANA, IANA_MAX_HI, IANA_TEXT};

/// Every IANA row that covers `port`, in table order.
pub fn lookup(port: u16) -> Vec<&'static IanaRow> {
    let end = IANA.partition_point(|r| r.lo <= port);
    let mut rows: Vec<_> = (0..end)
        .rev()
        .take_while(|&i| IANA_MAX_HI[i] >= port)
        .map(|i| &IANA[i])
        .filter(|r| r.hi >= port)
        .collect();
    rows.reverse();
    rows
}

/// Whether IANA assigns or reserves `port` for any protocol (what the policy avoids).
pub fn taken(port: u16) -> Option<IanaStatus> {
    let rows = lookup(port);
    [IanaStatus::Assigned, IanaStatus::Reserved]
        .into_iter()
        .find(|s| rows.iter().any(|r| r.status == *s))
}

/// The development tools known to use `port` by default.
pub fn dev_tools(port: u16) -> Vec<&'static str> {
    let start = DEV_TOOLS.partition_point(|t| t.0 < port);
    DEV_TOOLS[start..]
        .iter()
        .take_while(|t| t.0 == port)
        .map(|t| t.2)
        .collect()
}

/// Whether browsers refuse to connect to `port` (the WHATWG Fetch bad-port list).
pub fn browser_blocked(port: u16) -> bool {
    BAD_PORTS.binary_search(&port).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_2276_is_ibridge_mgmt() {
        let rows = lookup(2276);
        let names: Vec<_> = rows
            .iter()
            .map(|r| (r.service(), r.proto, r.registered()))
            .collect();
        assert_eq!(
            names,
            [
                ("ibridge-mgmt", IanaProto::Tcp, "2004-12"),
                ("ibridge-mgmt", IanaProto::Udp, "2004-12")
            ]
        );
        assert_eq!(rows[0].description(), "iBridge Management");
        assert_eq!(taken(2276), Some(IanaStatus::Assigned));
    }

    #[test]
    fn ranges_and_statuses() {
        // 29170-29998 is one Unassigned range row.
        assert!(
            lookup(29500)
                .iter()
                .all(|r| r.status == IanaStatus::Unassigned && r.lo == 29170)
        );
        assert_eq!(taken(29500), None);
        assert_eq!(taken(0), Some(IanaStatus::Reserved));
        assert_eq!(taken(80), Some(IanaStatus::Assigned));
        assert!(lookup(60000).is_empty());
        assert!(browser_blocked(6667) && !browser_blocked(6670));
        assert!(dev_tools(5173).iter().any(|t| t.contains("Vite")));
    }

    /// Sampled rows of the CSV, read with a real CSV parser, agree with the table: single
    /// ports and ranges (first and last port), rows without a protocol (tcp and udp), and
    /// Unassigned / Reserved rows.
    #[test]
    fn agrees_with_csv_samples() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/data/service-names-port-numbers.csv"
        );
        let mut reader = csv::Reader::from_path(path).expect("the IANA csv");
        let (mut ranges, mut protoless, mut unassigned, mut checked) = (0, 0, 0, 0);
        for (i, record) in reader.records().enumerate() {
            let r = record.expect("csv record");
            let (service, port, proto, description) = (&r[0], &r[1], &r[2], r[3].trim());
            let is_range = port.contains('-');
            let lower = description.to_ascii_lowercase();
            let is_unassigned = service.is_empty() && lower.starts_with("unassigned");
            // Every range, protocol-less and unassigned row, and every 25th of the rest.
            if port.is_empty() || !(is_range || proto.is_empty() || is_unassigned || i % 25 == 0) {
                continue;
            }
            let (lo, hi) = match port.split_once('-') {
                Some((a, b)) => (
                    a.parse::<u16>().expect("port"),
                    b.parse::<u16>().expect("port"),
                ),
                None => (
                    port.parse::<u16>().expect("port"),
                    port.parse::<u16>().expect("port"),
                ),
            };
            let protos: &[IanaProto] = match proto {
                "" => &[IanaProto::Tcp, IanaProto::Udp],
                "tcp" => &[IanaProto::Tcp],
                "udp" => &[IanaProto::Udp],
                "sctp" => &[IanaProto::Sctp],
                _ => &[IanaProto::Dccp],
            };
            for p in [lo, hi] {
                for want in protos {
                    let rows = lookup(p);
                    let found = rows.iter().any(|row| {
                        row.proto == *want
                            && row.lo == lo
                            && row.hi == hi
                            && row.service() == service
                            && row.description() == description
                    });
                    assert!(found, "port {p} {want:?}: {:?}", &r);
                    if is_unassigned {
                        assert!(
                            rows.iter()
                                .any(|row| row.lo == lo && row.status == IanaStatus::Unassigned)
                        );
                    }
                    if !service.is_empty() {
                        assert_eq!(taken(p), Some(IanaStatus::Assigned), "{:?}", &r);
                    }
                }
            }
            ranges += usize::from(is_range);
            protoless += usize::from(proto.is_empty());
            unassigned += usize::from(is_unassigned);
            checked += 1;
        }
        assert!(
            ranges > 500 && protoless > 500 && unassigned > 500 && checked > 1000,
            "{ranges} {protoless} {unassigned} {checked}"
        );
    }
}
