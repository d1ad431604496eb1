//! The one place devport needs `unsafe`: signal dispositions.
//!
//! A file-size limit (`ulimit -f`) makes the kernel send SIGXFSZ to a writer that crosses it,
//! which kills the process by default — possibly in the middle of writing a temp file. devport
//! ignores the signal instead, so the write fails with EFBIG and is reported as an error (exit
//! 3) with the registry untouched. `devport exec` puts the inherited disposition back before
//! starting the user's command.

#[cfg(unix)]
mod imp {
    use std::sync::OnceLock;

    use nix::sys::signal::{SigHandler, Signal, signal};

    static INHERITED: OnceLock<SigHandler> = OnceLock::new();

    /// Ignores SIGXFSZ for this process, remembering the inherited disposition.
    #[allow(unsafe_code)]
    pub fn ignore_file_size_signal() {
        // SAFETY: SIG_IGN installs no handler, so no code runs in signal context.
        if let Ok(previous) = unsafe { signal(Signal::SIGXFSZ, SigHandler::SigIgn) } {
            let _ = INHERITED.set(previous);
        }
    }

    /// Puts back the disposition devport inherited, before it execs another program.
    #[allow(unsafe_code)]
    pub fn restore_file_size_signal() {
        if let Some(&previous) = INHERITED.get() {
            // SAFETY: `previous` is the disposition this process started with (SIG_DFL or
            // SIG_IGN, the only ones exec passes on), so restoring it installs no new code.
            let _ = unsafe { signal(Signal::SIGXFSZ, previous) };
        }
    }
}

#[cfg(not(unix))]
mod imp {
    /// No such signal here.
    pub fn ignore_file_size_signal() {}
    /// No such signal here.
    pub fn restore_file_size_signal() {}
}

pub use imp::{ignore_file_size_signal, restore_file_size_signal};
