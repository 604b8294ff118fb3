//! The `triage` binary: command line, logging, signals. Everything else is the library.

use anyhow::Context;
use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;
use triage::cli::{choose_config, AdminArgs, Cli, Cmd};
use triage::config::Config;
use triage::Runtime;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.cmd {
        Some(Cmd::CheckConfig { file }) => check_config(&file),
        Some(Cmd::Run { config }) => run(config.or(cli.config)),
        Some(Cmd::Hl7Ping { target, timeout }) => hl7_ping(&target, timeout),
        Some(Cmd::XdsPing { url, timeout }) => xds_ping(&url, timeout),
        Some(Cmd::Echo {
            target,
            aet,
            aec,
            timeout,
        }) => echo(&target, &aet, &aec, timeout),
        Some(Cmd::Status { admin }) => admin_cmd(&admin, None),
        Some(Cmd::Server {
            pool,
            server,
            state,
            admin,
        }) => admin_cmd(&admin, Some((&pool, &server, &state))),
        None => run(cli.config),
    }
}

fn check_config(file: &std::path::Path) -> ExitCode {
    match Config::load(file) {
        Ok(c) => {
            println!("{}", c.summary());
            ExitCode::SUCCESS
        }
        Err(e) => {
            for l in e.lines() {
                eprintln!("{l}");
            }
            ExitCode::FAILURE
        }
    }
}

/// `triage status` (no change) or `triage server POOL SERVER STATE`, through the admin API.
fn admin_cmd(a: &AdminArgs, change: Option<(&str, &str, &str)>) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("triage: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let token = a.token.as_deref().filter(|t| !t.is_empty());
    let result = rt.block_on(async {
        match change {
            None => triage::admin::ctl::status(&a.url, token).await,
            Some((pool, server, state)) => {
                triage::admin::ctl::set_state(&a.url, token, pool, server, state).await
            }
        }
    });
    match result {
        Ok(out) => {
            print!("{}", out.trim_end_matches('\n'));
            println!();
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("triage: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `triage run`; its errors go to standard error after the log lines before them.
fn run(flag: Option<PathBuf>) -> ExitCode {
    triage::logging::init();
    let code = run_logged(flag);
    triage::logging::flush();
    code
}

fn run_logged(flag: Option<PathBuf>) -> ExitCode {
    let path = choose_config(flag);
    let config = match &path {
        Some(p) => match Config::load(p) {
            Ok(c) => c,
            Err(e) => return fail(&e.lines().join("\n")),
        },
        None => Config::embedded(),
    };
    tracing::info!(config = %config.source, "using configuration");
    let rt = match gateway_runtime() {
        Ok(rt) => rt,
        Err(e) => return fail(&format!("triage: cannot start the async runtime: {e}")),
    };
    match rt.block_on(serve(config, path)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&format!("triage: {e:#}")),
    }
}

/// `triage run` failed: the log lines before the failure out first, then `text` on standard
/// error.
fn fail(text: &str) -> ExitCode {
    triage::logging::flush();
    eprintln!("{text}");
    ExitCode::FAILURE
}

/// The gateway's runtime: one worker thread per core it may run on; on a single core
/// (a small VM, or `taskset -c 0`) a current-thread runtime, which wakes tasks without the
/// multi-thread scheduler's cross-thread queues (measured cheaper per request there).
fn gateway_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cores == 1 {
        tracing::info!("one core available: current-thread runtime");
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tracing::info!(worker_threads = cores, "multi-thread runtime");
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(cores)
            .enable_all()
            .build()
    }
}

async fn serve(config: Config, path: Option<PathBuf>) -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    triage::timer_floor::spawn();
    let gw = Runtime::start(config, path)
        .await
        .context("start-up failed")?;
    // The start-up lines (which configuration, what listens where) out now, not with the
    // first batch.
    triage::logging::flush();
    let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("SIGINT handler")?;
    let mut hup = signal(SignalKind::hangup()).context("SIGHUP handler")?;
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = hup.recv() => match gw.reload().await {
                Ok(()) => triage::logging::flush(),
                Err(e) => tracing::error!("reload refused, the running configuration stays:\n{e}"),
            },
        }
    }
    tracing::info!("stopping: no new connections");
    gw.shutdown().await;
    tracing::info!("stopped");
    Ok(())
}

/// Runs one probe command on a current-thread runtime: prints its line, exit 0 only if `ok`.
/// `prepare` turns the command's target into an address (errors end the command with exit 1).
fn probe<T, P, F, Fut>(cmd: &str, prepare: P, run: F) -> ExitCode
where
    P: FnOnce() -> Result<T, String>,
    F: FnOnce(T) -> Fut,
    Fut: std::future::Future<Output = (bool, String)>,
{
    let target = match prepare() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("triage {cmd}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("triage {cmd}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (ok, line) = rt.block_on(run(target));
    println!("{line}");
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn echo(target: &str, aet: &str, aec: &str, timeout: std::time::Duration) -> ExitCode {
    probe(
        "echo",
        || triage::cli::resolve(target),
        |addr| async move {
            let o = triage::dicom::echo::c_echo(addr, aet, aec, timeout).await;
            (o.ok(), format!("{target} ({aet} -> {aec}): {o}"))
        },
    )
}

fn hl7_ping(target: &str, timeout: std::time::Duration) -> ExitCode {
    probe(
        "hl7-ping",
        || triage::cli::resolve(target),
        |addr| async move {
            let o = triage::hl7::ping::ping(addr, None, timeout).await;
            let code = o.code.as_deref().unwrap_or("-");
            let line = if o.ok {
                format!(
                    "{target}: MSA-1 {code} in {:.1} ms",
                    o.rtt.as_secs_f64() * 1e3
                )
            } else {
                format!("{target}: MSA-1 {code}: {}", o.detail)
            };
            (o.ok, line)
        },
    )
}

fn xds_ping(url: &str, timeout: std::time::Duration) -> ExitCode {
    probe(
        "xds-ping",
        || triage::cli::parse_http_url(url),
        |(host, addr, path)| async move {
            let o = triage::xds::ping::ping(addr, &host, &path, timeout).await;
            (o.ok, format!("{url}: {}", o.detail))
        },
    )
}
