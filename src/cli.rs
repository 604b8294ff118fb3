//! The command line (clap): `run`, `check-config`; later issues add `echo`, `hl7-ping`,
//! `xds-ping`, `status` and `server`.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "triage",
    version,
    about = "Protocol-aware load balancer for DICOM, HL7 MLLP and IHE XDS"
)]
pub struct Cli {
    /// Config file for the default `run` (else ./triage.toml if present, else the embedded default).
    #[arg(short = 'c', long = "config", global = false)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub cmd: Option<Cmd>,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Run the gateway (the default). SIGTERM/SIGINT: drain and exit; SIGHUP: reload the file.
    Run {
        /// Config file (else ./triage.toml if present, else the embedded default).
        #[arg(short = 'c', long = "config")]
        config: Option<PathBuf>,
    },
    /// Validate a config file: exit 0 with a summary, or exit 1 with FILE:LINE:COL: message lines.
    CheckConfig {
        /// The file to check.
        file: PathBuf,
    },
}

/// Where the config comes from, in the spec's order: `-c FILE`, `./triage.toml`, embedded.
pub fn choose_config(flag: Option<PathBuf>) -> Option<PathBuf> {
    flag.or_else(|| {
        let local = PathBuf::from("triage.toml");
        local.is_file().then_some(local)
    })
}
