//! Compiles the port data under `data/` into sorted Rust tables (see `src/ports/iana.rs`).
//!
//! Nothing is read at run time: the binary carries the IANA registry, the dev-tool default
//! ports and the browser bad-port list as static slices that are searched by binary search.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    for file in [
        "service-names-port-numbers.csv",
        "dev-common-ports.csv",
        "browser-bad-ports.csv",
    ] {
        println!("cargo:rerun-if-changed=data/{file}");
    }
    let mut out = String::new();
    iana(&mut out);
    dev_tools(&mut out);
    bad_ports(&mut out);
    let dest = Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("tables.rs");
    std::fs::write(dest, out).expect("write generated tables");
}

fn reader(name: &str) -> csv::Reader<std::fs::File> {
    csv::Reader::from_path(format!("data/{name}")).unwrap_or_else(|e| panic!("data/{name}: {e}"))
}

fn port_range(text: &str) -> (u16, u16) {
    let parse = |s: &str| {
        s.trim()
            .parse::<u16>()
            .unwrap_or_else(|e| panic!("bad port {s:?}: {e}"))
    };
    match text.split_once('-') {
        Some((lo, hi)) => (parse(lo), parse(hi)),
        None => (parse(text), parse(text)),
    }
}

/// Reads the IANA CSV as `data/README.md` explains it.
fn iana(out: &mut String) {
    let mut rows = Vec::new();
    for record in reader("service-names-port-numbers.csv").records() {
        let r = record.expect("IANA csv record");
        let (service, port, proto, description, registered) = (&r[0], &r[1], &r[2], &r[3], &r[6]);
        if port.is_empty() {
            continue; // DNS-SD names without a port
        }
        let (lo, hi) = port_range(port);
        let lower = description.trim().to_ascii_lowercase();
        let status = if !service.is_empty() {
            "Assigned"
        } else if lower.starts_with("unassigned") || lower.starts_with("(unassigned)") {
            "Unassigned"
        } else if [
            "de-registered",
            "removed",
            "deprecated",
            "decomissioned",
            "de-commissioned",
        ]
        .iter()
        .any(|s| lower.starts_with(s))
        {
            "Historical"
        } else {
            // "Reserved", and the few free-text rows ("any private ...", "Possibly used ..."):
            // treated as reserved, the cautious reading.
            "Reserved"
        };
        let protos: &[&str] = match proto {
            "" => &["Tcp", "Udp"],
            "tcp" => &["Tcp"],
            "udp" => &["Udp"],
            "sctp" => &["Sctp"],
            "dccp" => &["Dccp"],
            other => panic!("unknown IANA protocol {other:?}"),
        };
        for p in protos {
            rows.push((
                lo,
                hi,
                *p,
                status,
                service.to_string(),
                description.trim().to_string(),
                registered.to_string(),
            ));
        }
    }
    rows.sort_by(|a, b| (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)));
    // Strings live in one text blob and rows hold offsets into it: a table of `&str` would need
    // a relocation per string at every start of the program (about 45,000 of them).
    let mut text = String::new();
    let mut seen = std::collections::HashMap::new();
    let mut span = |s: &str| -> (usize, usize) {
        *seen.entry(s.to_string()).or_insert_with(|| {
            let start = text.len();
            text.push_str(s);
            (start, s.len())
        })
    };
    let mut table = String::new();
    for (lo, hi, proto, status, service, description, registered) in &rows {
        let (s, d, r) = (span(service), span(description), span(registered));
        writeln!(
            table,
            "IanaRow {{ lo: {lo}, hi: {hi}, proto: IanaProto::{proto}, status: IanaStatus::{status}, service: Span({}, {}), description: Span({}, {}), registered: Span({}, {}) }},",
            s.0, s.1, d.0, d.1, r.0, r.1
        )
        .expect("write to string");
    }
    writeln!(
        out,
        "/// The text every `Span` of `IANA` points into.\npub(super) static IANA_TEXT: &str = {text:?};"
    )
    .expect("write to string");
    out.push_str("/// IANA rows sorted by first port (then last port, protocol).\npub(super) static IANA: &[IanaRow] = &[\n");
    out.push_str(&table);
    out.push_str("];\n/// Running maximum of `hi` over `IANA`, so a lookup knows how far back ranges reach.\npub(super) static IANA_MAX_HI: &[u16] = &[");
    let mut max = 0;
    for row in &rows {
        max = max.max(row.1);
        write!(out, "{max},").expect("write to string");
    }
    out.push_str("];\n");
}

fn dev_tools(out: &mut String) {
    let mut rows: Vec<(u16, String, String)> = reader("dev-common-ports.csv")
        .records()
        .map(|r| {
            let r = r.expect("dev-common-ports record");
            (port_range(&r[0]).0, r[1].to_string(), r[2].to_string())
        })
        .collect();
    rows.sort();
    out.push_str("/// Development-tool default ports, sorted by port: (port, protocol, tool).\npub(super) static DEV_TOOLS: &[(u16, &str, &str)] = &[\n");
    for (port, proto, tool) in &rows {
        writeln!(out, "({port}, {proto:?}, {tool:?}),").expect("write to string");
    }
    out.push_str("];\n");
}

fn bad_ports(out: &mut String) {
    let mut ports: Vec<u16> = reader("browser-bad-ports.csv")
        .records()
        .map(|r| port_range(&r.expect("browser-bad-ports record")[0]).0)
        .collect();
    ports.sort_unstable();
    ports.dedup();
    out.push_str(
        "/// The WHATWG Fetch bad ports, sorted.\npub(super) static BAD_PORTS: &[u16] = &[",
    );
    for p in ports {
        write!(out, "{p},").expect("write to string");
    }
    out.push_str("];\n");
}
