//! `serve`: the Segment ingress in front of a User.com app, until Ctrl-C/SIGTERM, then a drain.

use std::io::Write;
use std::process::ExitCode;

use super::signal::shutdown_signal;
use super::{api_key, config, origin, summary_line, ServeArgs};
use crate::delivery::{Config, Forwarder};
use crate::ingress::{Ingress, Settings};
use crate::segment::batch::MAX_BATCH_MESSAGES;

pub(super) async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let origin = origin(&args.target)?;
    let key = api_key(&args.target)?;
    let config = Config {
        queue_capacity: args.queue_capacity.max(MAX_BATCH_MESSAGES),
        ..config(&origin, key, &args.delivery)
    };
    let settings = Settings {
        write_key: args.write_key.filter(|k| !k.is_empty()),
        queue_wait: args.queue_wait,
        drain_timeout: args.drain_timeout,
    };
    let ingress = Ingress::start_with(args.listen, Forwarder::new(config)?, settings).await?;
    println!("ingress: {} -> {}", ingress.url(), origin);
    std::io::stdout().flush().ok();
    shutdown_signal().await;
    tracing::info!("stopping: draining the delivery queue");
    let summary = ingress.shutdown().await;
    println!("{}", summary_line(&summary));
    Ok(ExitCode::SUCCESS)
}
