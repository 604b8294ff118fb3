//! Health kind `script`: runs an external command (`sh -c`), exit status 0 = up. The command
//! gets `TRIAGE_SERVER_ADDR`, `TRIAGE_SERVER_PORT` and `TRIAGE_SERVER_NAME`; it is killed when the
//! check times out.

use super::{BoxFuture, Check, Probe, Target};
use std::process::Stdio;

pub struct ScriptCheck {
    command: String,
}

impl ScriptCheck {
    pub fn new(command: String) -> Self {
        Self { command }
    }
}

impl Check for ScriptCheck {
    fn probe<'a>(&'a self, t: &'a Target) -> BoxFuture<'a, Probe> {
        Box::pin(async move {
            let out = tokio::process::Command::new("sh")
                .arg("-c")
                .arg(&self.command)
                .env("TRIAGE_SERVER_ADDR", t.addr.ip().to_string())
                .env("TRIAGE_SERVER_PORT", t.addr.port().to_string())
                .env("TRIAGE_SERVER_NAME", t.server.name())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .kill_on_drop(true)
                .output()
                .await;
            match out {
                Ok(o) if o.status.success() => Probe::up("script exit 0"),
                Ok(o) => {
                    let err = String::from_utf8_lossy(&o.stderr);
                    let line: String = err.lines().next().unwrap_or("").chars().take(120).collect();
                    let code = o
                        .status
                        .code()
                        .map_or_else(|| "killed by signal".to_string(), |c| format!("exit {c}"));
                    Probe::down(if line.is_empty() {
                        format!("script {code}")
                    } else {
                        format!("script {code}: {line}")
                    })
                }
                Err(e) => Probe::down(format!("script could not run: {e}")),
            }
        })
    }
}
