//! Exit codes: the command line's contract, decided here and nowhere in the library. A library
//! [`Error`] gets its code from its kind ([`Error::kind`], one arm per variant in the library).

use devport_core::error::{Error, ErrorKind};

/// A negative answer: the port is not usable, the request is refused.
pub const NEGATIVE: u8 = 1;
/// Bad usage or input.
pub const USAGE: u8 = 2;
/// A failure of the registry or the environment.
pub const ENV: u8 = 3;
/// `exec`: the service's own server already runs on its port, so nothing was run.
pub const RUNNING: u8 = 4;

/// A failure the command line has put in words itself, with the exit code it chose (`up`'s
/// summary of the services it refused).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    /// The exit code.
    pub code: u8,
    /// The one line shown.
    pub message: String,
}

/// The exit code of a library error, by its kind.
pub fn exit_code(e: &Error) -> u8 {
    match e.kind() {
        ErrorKind::Refused => NEGATIVE,
        ErrorKind::Usage => USAGE,
        ErrorKind::Environment => ENV,
    }
}

/// The exit code of a failed command: a [`Failure`]'s own, else the first library error's in
/// the chain, else 3 (any other failure is the environment's).
pub fn of(e: &anyhow::Error) -> u8 {
    e.chain()
        .find_map(|c| {
            c.downcast_ref::<Failure>()
                .map(|f| f.code)
                .or_else(|| c.downcast_ref::<Error>().map(exit_code))
        })
        .unwrap_or(ENV)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use devport_core::StopRefusal;
    use devport_core::error::{Input, NoRoom};
    use devport_core::{PortRange, Proto};

    fn range() -> PortRange {
        PortRange::new(3000, 3001).expect("lo <= hi")
    }

    #[test]
    fn refusals_exit_1() {
        let refusals = [
            Error::PortClaimed {
                ports: range(),
                project: "shop".into(),
                project_path: None,
                service: "web".into(),
                maybe_clone: false,
            },
            Error::PortLeased {
                ports: range(),
                pid: 42,
            },
            Error::PortInUse {
                port: 3000,
                proto: Proto::Tcp,
                listener: None,
            },
            Error::PortUnbindable {
                port: 80,
                proto: Proto::Udp,
                addr: std::net::Ipv4Addr::LOCALHOST.into(),
                reason: "permission denied".into(),
            },
            Error::ClaimDiffers {
                project: "shop".into(),
                service: "web".into(),
                ports: range(),
                proto: Proto::Tcp,
                wanted: devport_core::Wanted::Proto(Proto::Udp),
                command: "devport claim web --proto udp --move".into(),
            },
            Error::StrictPort {
                service: "db".into(),
                port: 3000,
                main: None,
            },
            Error::NoFreePort {
                range: range(),
                count: 3,
                what: devport_core::Seeker::Lease,
                why: NoRoom::TooLong { longest: 2 },
            },
            Error::StopRefused {
                why: StopRefusal::OtherUser,
                port: Some(3000),
                pid: Some(42),
                message: "not yours".into(),
            },
        ];
        for e in &refusals {
            assert_eq!(exit_code(e), NEGATIVE, "{e:?}");
        }
    }

    #[test]
    fn bad_input_and_manifests_exit_2() {
        let usage = [
            Error::invalid(Input::Port, "invalid port"),
            Error::manifest(&PathBuf::from("devport.toml"), "line 1".into()),
        ];
        for e in &usage {
            assert_eq!(exit_code(e), USAGE, "{e:?}");
        }
    }

    #[test]
    fn the_environment_exits_3() {
        let path = PathBuf::from("registry.json");
        let env = [
            Error::config(&PathBuf::from("config.toml"), "line 1".into()),
            Error::Corrupt {
                path: path.clone(),
                line: 1,
                column: 1,
                message: "x".into(),
            },
            Error::Invalid {
                path: path.clone(),
                message: "x".into(),
            },
            Error::Version {
                path: path.clone(),
                found: 9,
                supported: 1,
            },
            Error::LockTimeout {
                path: path.clone(),
                pid: Some(1),
                name: None,
                seconds: 1.0,
            },
            Error::Insecure {
                path: path.clone(),
                message: "x".into(),
            },
            Error::NotAFile {
                what: "registry",
                path: path.clone(),
                kind: "a FIFO",
            },
            Error::TooLarge {
                what: "registry",
                path: path.clone(),
                size: 2,
                limit: 1,
            },
            Error::Unwritable {
                message: "x".into(),
            },
            Error::io("cannot write registry", path, std::io::Error::other("x")),
        ];
        for e in &env {
            assert_eq!(exit_code(e), ENV, "{e:?}");
        }
    }

    #[test]
    fn a_failure_keeps_its_code_and_anything_else_is_the_environment() {
        let failure = anyhow::Error::new(Failure {
            code: USAGE,
            message: "x".into(),
        });
        assert_eq!(of(&failure), USAGE);
        let refused = anyhow::Error::new(Error::PortLeased {
            ports: range(),
            pid: 42,
        })
        .context("claiming web");
        assert_eq!(of(&refused), NEGATIVE);
        assert_eq!(of(&anyhow::anyhow!("something else")), ENV);
    }
}
