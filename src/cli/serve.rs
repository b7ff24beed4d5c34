//! `serve`: the Segment ingress in front of a User.com app, until Ctrl-C/SIGTERM, then a drain.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use super::signal::shutdown_signal;
use super::{api_key, config, default_spool_dir, origin, summary_line, ServeArgs};
use crate::delivery::{Config, Forwarder};
use crate::ingress::{Ingress, Settings};
use crate::segment::batch::MAX_BATCH_MESSAGES;

pub(super) async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    // Before anything is printed: a supervisor may signal as soon as it sees the banner.
    let stop = shutdown_signal();
    let origin = origin(&args.target)?;
    let key = api_key(&args.target)?;
    // The spool directory: given, or the default for this port, or (port 0) a temporary one
    // of this process, removed on a clean stop.
    let (spool_dir, temporary) = if args.no_spool {
        (None, false)
    } else {
        match args
            .spool
            .spool
            .clone()
            .or_else(|| default_spool_dir(args.listen.port()))
        {
            Some(dir) => (Some(dir), false),
            None => (Some(temporary_spool_dir()), true),
        }
    };
    let config = Config {
        queue_capacity: args.queue_capacity.max(MAX_BATCH_MESSAGES),
        spool: spool_dir.clone().map(|dir| args.spool.config(dir)),
        ..config(&origin, key, &args.delivery)
    };
    let settings = Settings {
        write_key: args.write_key.filter(|k| !k.is_empty()),
        queue_wait: args.queue_wait,
        drain_timeout: args.drain_timeout,
        cors: args.cors_origins,
    };
    let ingress = Ingress::start_with(args.listen, Forwarder::new(config)?, settings).await?;
    match &spool_dir {
        Some(dir) => {
            tracing::info!(dir = %dir.display(), "spool: a batch is answered 200 once it is on disk")
        }
        None => tracing::warn!("--no-spool: a crash loses accepted messages not yet delivered"),
    }
    println!("ingress: {} -> {}", ingress.url(), origin);
    std::io::stdout().flush().ok();
    stop.await;
    tracing::info!("stopping: draining the delivery queue");
    let summary = ingress.shutdown().await;
    if temporary {
        if let Some(dir) = &spool_dir {
            // Empty after a clean drain (every message ended); a directory with segments left
            // (something pending) is kept and named.
            let _ = std::fs::remove_file(dir.join("LOCK"));
            if std::fs::remove_dir(dir).is_err() {
                tracing::warn!(dir = %dir.display(), "temporary spool kept: it still holds messages (serve --spool DIR replays them)");
            }
        }
    }
    println!("{}", summary_line(&summary));
    Ok(super::exit_code(&summary))
}

fn temporary_spool_dir() -> PathBuf {
    std::env::temp_dir().join(format!("usercom-forwarder-spool-{}", std::process::id()))
}
