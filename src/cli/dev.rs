//! `dev`: the User.com simulator and the Segment ingress in one process, for offline work.
//! The only part of the forwarder that needs the simulator (cargo feature `dev`, on by default).

use std::io::Write;
use std::process::ExitCode;

use super::signal::shutdown_signal;
use super::{config, summary_line, DevArgs};
use crate::delivery::Forwarder;
use crate::ingress::{Cors, Ingress, Settings};
use crate::usercom::Origin;

pub(super) async fn dev(args: DevArgs) -> anyhow::Result<ExitCode> {
    // Before the banner: Ctrl-C right after it still drains.
    let stop = shutdown_signal();
    let mut builder = usercom_mock::MockServer::builder().listen(args.mock_listen);
    if let Some(key) = args.api_key.as_deref().filter(|k| !k.trim().is_empty()) {
        builder = builder.api_key(key.trim());
    }
    let mock = builder
        .start()
        .await
        .map_err(|e| anyhow::anyhow!("cannot start the simulator on {}: {e}", args.mock_listen))?;
    let origin = Origin::from_url(&mock.url())?;
    let write_key = args.write_key.filter(|k| !k.is_empty());
    let config = crate::delivery::Config {
        // Off unless asked: `dev` is for trying things out (its simulator forgets on exit).
        spool: args.spool.spool.clone().map(|dir| args.spool.config(dir)),
        ..config(&origin, mock.api_key().to_string(), &args.delivery)
    };
    let settings = Settings {
        write_key: write_key.clone(),
        cors: args.cors_origins.clone(),
        ..Settings::default()
    };
    let ingress = Ingress::start_with(args.listen, Forwarder::new(config)?, settings).await?;
    print!(
        "{}",
        dev_banner(
            &mock.url(),
            mock.api_key(),
            &ingress.url(),
            write_key.as_deref(),
            &args.cors_origins,
        )
    );
    std::io::stdout().flush().ok();
    stop.await;
    tracing::info!("stopping: draining the delivery queue");
    let summary = ingress.shutdown().await;
    mock.shutdown().await;
    println!("{}", summary_line(&summary));
    Ok(super::exit_code(&summary))
}

/// What `dev` prints on start.
pub fn dev_banner(
    mock_url: &str,
    api_key: &str,
    ingress_url: &str,
    write_key: Option<&str>,
    cors: &Cors,
) -> String {
    let shown_write_key = write_key.unwrap_or("(none required: any write key is accepted)");
    let snippet_key = write_key.unwrap_or("dev");
    format!(
        "\
usercom-forwarder dev: a local User.com simulator and a Segment ingress

  Segment ingress (client host):  {ingress_url}
  Segment write key:              {shown_write_key}
  Browser page origins (CORS):    {cors}
  User.com simulator (API):       {mock_url}/api/public/
  Simulator dashboard:            {mock_url}/
  User.com API key:               {api_key}

Paste into Python (pip install segment-analytics-python==2.4.0):

    import segment.analytics as analytics
    analytics.write_key = \"{snippet_key}\"
    analytics.host = \"{ingress_url}\"
    analytics.identify(\"user-42\", {{\"email\": \"ada@example.com\", \"firstName\": \"Ada\"}})
    analytics.page(\"user-42\", properties={{\"url\": \"https://shop.example.com/pricing\"}})
    analytics.track(\"user-42\", \"Order Completed\", {{\"revenue\": 42}})
    analytics.group(\"user-42\", \"company-7\", {{\"name\": \"Example Ltd\"}})
    analytics.flush()

In a web page, Analytics.js 2.0 (npm install @segment/analytics-next@1.84.3); cdnURL is the
only change: the ingress serves the settings that point the SDK back at it:

    import {{ AnalyticsBrowser }} from \"@segment/analytics-next\";
    const analytics = AnalyticsBrowser.load({{ writeKey: \"{snippet_key}\", cdnURL: \"{ingress_url}\" }});
    analytics.identify(\"user-42\", {{ email: \"ada@example.com\", firstName: \"Ada\" }});
    analytics.page();
    analytics.track(\"Order Completed\", {{ revenue: 42 }});
    analytics.group(\"company-7\", {{ name: \"Example Ltd\" }});

Then look at {mock_url}/ . Ctrl-C stops (the delivery queue is drained first).
"
    )
}
