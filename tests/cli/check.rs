//! `check`: verdicts and reasons for a port, against real sockets the test opens on loopback.

use std::io::Read as _;
use std::net::TcpListener;
use std::net::TcpStream;
use std::net::UdpSocket;

use serde_json::Value;

#[cfg(unix)]
use crate::support::stderr;
use crate::support::{World, audit_rows, port, require_ipv6_loopback, retry, stdout};

fn check_json(w: &World, port: u16) -> (Value, Option<i32>) {
    let out = w
        .cmd(&["check", &port.to_string(), "--json"])
        .output()
        .expect("run");
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    (v[0].clone(), out.status.code())
}

fn reasons(v: &Value) -> Vec<String> {
    v["reasons"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| r.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn assert_socket(v: &Value, proto: &str, address: &str) {
    assert_eq!(v["proto"], proto, "{v}");
    assert_eq!(v["address"], address, "{v}");
    assert_eq!(v["pid"], crate::support::own_pid_json(), "{v}");
}

/// Leaves `port` in `TIME_WAIT` only: the server side closes an accepted connection first.
/// `None` when the port is taken.
fn time_wait_on(port: u16) -> Option<()> {
    let l = TcpListener::bind(("127.0.0.1", port)).ok()?;
    let mut client = TcpStream::connect(("127.0.0.1", port)).expect("connect to the listener");
    let (server, _) = l.accept().expect("accept");
    drop(server);
    let mut buf = [0u8; 1];
    let _ = client.read(&mut buf); // sees the FIN
    drop(client);
    drop(l);
    Some(())
}

#[test]
fn tcp_listener_on_ipv4_loopback() {
    let w = World::new();
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let p = l.local_addr().expect("addr").port();
    let (v, code) = check_json(&w, p);
    assert_eq!(code, Some(1));
    assert!(reasons(&v).contains(&"in-use".to_string()), "{v}");
    assert_socket(&v["sockets"][0], "tcp", "127.0.0.1");
    let rows = audit_rows(&w, p);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_socket(&rows[0], "tcp", "127.0.0.1");
    // The OS may pick an IANA-assigned port or a dev-tool default (35729, 51212 ...): the
    // finding follows the port tables, as `check` reports them (not audit's own code).
    let listed = |key: &str| v[key].as_array().cloned().unwrap_or_default();
    let assigned = listed("iana").iter().any(|e| e["status"] == "assigned");
    let known = assigned || !listed("dev_tools").is_empty();
    assert_eq!(rows[0]["finding"], if known { "known" } else { "unknown" });
    // The text report names the owner.
    let text = String::from_utf8_lossy(
        &w.cmd(&["check", &p.to_string()])
            .output()
            .expect("run")
            .stdout,
    )
    .into_owned();
    assert!(
        text.contains(&format!(
            "tcp 127.0.0.1:{p} {}",
            crate::support::own_pid_text()
        )),
        "{text}"
    );
    drop(l);
}

#[test]
#[ignore = "needs an IPv6 loopback (::1); .ci/run enables it"]
fn tcp_listener_on_ipv6_loopback_only() {
    require_ipv6_loopback();
    let w = World::new();
    let l = TcpListener::bind("[::1]:0").expect("bind [::1]:0");
    let p = l.local_addr().expect("addr").port();
    let (v, _) = check_json(&w, p);
    assert_socket(&v["sockets"][0], "tcp", "::1");
    assert_socket(&audit_rows(&w, p)[0], "tcp", "::1");
    drop(l);
}

#[test]
fn udp_socket_on_ipv4_loopback() {
    let w = World::new();
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let p = s.local_addr().expect("addr").port();
    let (v, _) = check_json(&w, p);
    assert!(reasons(&v).contains(&"in-use".to_string()), "{v}");
    assert_socket(&v["sockets"][0], "udp", "127.0.0.1");
    assert_socket(&audit_rows(&w, p)[0], "udp", "127.0.0.1");
    drop(s);
}

#[test]
fn time_wait_never_makes_a_port_busy() {
    // A port the policy would hand out, found in a scratch world; another one (a new service
    // name) if something took it meanwhile.
    let p = retry("leave a usable port in TIME_WAIT", |i| {
        let p = port(&World::new().ok_in("twshop", &["claim", &format!("tw{i}")]));
        time_wait_on(p).map(|()| p)
    });
    let w = World::new();
    let (v, code) = check_json(&w, p);
    assert_eq!(v["usable"], true, "{v}");
    assert_eq!(code, Some(0));
    assert!(v["sockets"].as_array().is_some_and(Vec::is_empty), "{v}");
    assert!(audit_rows(&w, p).is_empty());
}

#[test]
fn verdicts_and_reasons() {
    let w = World::new();
    let (v, code) = check_json(&w, 2276);
    assert_eq!(code, Some(1));
    assert!(reasons(&v).contains(&"iana-assigned".into()));
    assert_eq!(v["iana"][0]["service"], "ibridge-mgmt");
    assert_eq!(v["iana"][0]["description"], "iBridge Management");
    assert_eq!(v["iana"][0]["registered"], "2004-12");
    let protos: Vec<&Value> = v["iana"]
        .as_array()
        .map(|a| a.iter().map(|e| &e["proto"]).collect())
        .unwrap_or_default();
    assert_eq!(protos, [&Value::from("tcp"), &Value::from("udp")]);
    let text = stdout(&w.fails(&["check", "2276"], 1));
    assert!(
        text.contains("ibridge-mgmt \"iBridge Management\" (tcp, udp), registered 2004-12"),
        "{text}"
    );

    let (v, _) = check_json(&w, 80);
    assert_eq!(v["range"], "system");
    assert!(reasons(&v).contains(&"iana-assigned".into()));

    let (v, _) = check_json(&w, 5173);
    assert!(reasons(&v).contains(&"dev-tool-default".into()), "{v}");
    assert!(
        v["dev_tools"][0]
            .as_str()
            .is_some_and(|t| t.contains("Vite"))
    );

    let (v, _) = check_json(&w, 6667);
    assert!(reasons(&v).contains(&"browser-blocked".into()));
    assert_eq!(v["browser_blocked"], true);

    #[cfg(not(windows))]
    let eph = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .unwrap_or_else(|_| "49152 65535".into());
    // Windows' default (Wine's netsh reports nothing, and devport assumes the default); under
    // Wine the path above would read the Linux host's /proc.
    #[cfg(windows)]
    let eph = "49152 65535";
    let lo: u16 = eph
        .split_whitespace()
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(49152);
    let (v, _) = check_json(&w, lo + 1);
    assert!(reasons(&v).contains(&"os-ephemeral".into()), "{v}");
    assert!(
        v["os"]
            .as_array()
            .is_some_and(|a| a.contains(&Value::from("os-ephemeral")))
    );

    // A port the policy hands out: usable, exit 0, and claimed afterwards it says so.
    let free = port(&World::new().ok_in("freeshop", &["claim", "free"]));
    let (v, code) = check_json(&w, free);
    assert_eq!(
        (v["usable"].clone(), code),
        (Value::from(true), Some(0)),
        "{v}"
    );
    assert_eq!(v["range"], "user");
    w.ok(&["claim", "mine", "--port", &free.to_string()]);
    let (v, code) = check_json(&w, free);
    assert_eq!(code, Some(1));
    assert_eq!(reasons(&v), ["claimed"]);
    assert_eq!(v["claim"]["service"], "mine");
}

#[test]
fn check_2276_reads_as_documented() {
    let w = World::new();
    // 2276 is IANA-assigned, so no devport test is ever handed it, and it is below every
    // OS's ephemeral range: only a service of this machine could hold it, and then this test
    // says so instead of passing without testing.
    let out = w.fails(&["check", "2276"], 1);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("live      free"),
        "this test needs port 2276 free, and something on this machine uses it: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    // Wine's netsh prints nothing, and devport says what it could not read.
    let os = if crate::support::under_wine() {
        "not read: the ephemeral range (netsh printed nothing readable; Windows' default 49152-65535 assumed); not read: the excluded port ranges (netsh printed nothing; none assumed)"
    } else {
        "not reserved"
    };
    let expected = format!(
        "\
2276  user range (1024-49151)
  iana      assigned: ibridge-mgmt \"iBridge Management\" (tcp, udp), registered 2004-12
  dev tools none known
  browsers  allowed
  os        {os}
  live      free (tcp and udp, IPv4 and IPv6)
  devport   not claimed
  verdict   not usable: iana-assigned, outside-range; 'devport claim SERVICE --port 2276' can still take it
"
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), expected);
    assert!(out.stderr.is_empty());
}

/// 65,537 arguments of `1-65535` would overflow a 32-bit count to 0; they are refused first.
// A Windows command line holds at most 32,767 characters, far fewer than these arguments.
#[cfg(unix)]
#[test]
fn check_refuses_a_huge_argument_list_without_expanding_it() {
    let w = World::new();
    let mut args = vec!["check"];
    args.extend(std::iter::repeat_n("1-65535", 65_537));
    args.push("80");
    let out = w.fails(&args, 2);
    assert!(stdout(&out).is_empty());
    let err = stderr(&out);
    assert!(
        err.contains("4294967296 ports asked about") && err.contains("at most 4096"),
        "{err}"
    );
}
