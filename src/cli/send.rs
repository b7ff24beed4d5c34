//! `send`: forward a file's messages, with a progress bar on a terminal and a summary line.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::Context;

use super::input::read_input;
use super::{api_key, config, origin, summary_line, SendArgs};
use crate::delivery::{Forwarder, Summary};
use crate::segment::batch::Item;

pub(super) async fn send(args: SendArgs) -> anyhow::Result<ExitCode> {
    let origin = origin(&args.target)?;
    let key = api_key(&args.target)?;
    let source = args
        .replay
        .or(args.input)
        .context("no input: give FILE, `-` for stdin, or --replay FILE")?;
    let text = read_input(&source)?;
    let forwarder = Forwarder::new(config(&origin, key, &args.delivery))?;

    let mut messages = Vec::new();
    let mut summary = Summary::default();
    for item in crate::input::read_file(&text) {
        match item {
            Item::Message(message) => messages.push(message),
            Item::Invalid(invalid) => {
                forwarder.dead_letter_input(invalid.raw, &invalid.reason);
                summary.dead_lettered += 1;
            }
        }
    }

    let progress = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(messages.len() as u64);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} {msg}",
        ) {
            bar.set_style(style);
        }
        bar
    });
    let sent = forwarder
        .send_all_with(messages, |_| {
            if let Some(bar) = &progress {
                bar.inc(1);
            }
        })
        .await;
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    summary.delivered += sent.delivered;
    summary.skipped += sent.skipped;
    summary.dead_lettered += sent.dead_lettered;
    summary.duplicates += sent.duplicates;
    summary.dropped_fields = forwarder.stats().dropped_fields;

    println!("{}", summary_line(&summary));
    if summary.dead_lettered > 0 {
        match &args.delivery.dead_letter {
            Some(path) => eprintln!(
                "{} message(s) dead-lettered to {}; replay with: usercom-forwarder send {} ...",
                summary.dead_lettered,
                path.display(),
                path.display()
            ),
            None => eprintln!(
                "{} message(s) dead-lettered (logged above); pass --dead-letter FILE to keep them for a replay",
                summary.dead_lettered
            ),
        }
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
