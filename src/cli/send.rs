//! `send`: forward a file's messages, with a progress bar on a terminal and a summary line.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use super::input::read_input;
use super::{api_key, config, origin, summary_line, SendArgs};
use crate::delivery::{Forwarder, Summary};
use crate::input::checkpoint::{self, Checkpoint, InputId};
use crate::segment::batch::Item;

pub(super) async fn send(args: SendArgs) -> anyhow::Result<ExitCode> {
    let origin = origin(&args.target)?;
    let key = api_key(&args.target)?;
    let source = args
        .replay
        .or(args.input)
        .context("no input: give FILE, `-` for stdin, or --replay FILE")?;
    let text = read_input(&source)?;
    let items = crate::input::read_file(&text);
    let mut checkpoint = if args.resume {
        if source == "-" {
            anyhow::bail!(
                "--resume needs a file: stdin cannot be read again from where it stopped"
            );
        }
        let path = args
            .checkpoint
            .clone()
            .unwrap_or_else(|| checkpoint::path_for(Path::new(&source)));
        let mut cp = Checkpoint::open(&path, InputId::of(&text), items.len())?;
        if cp.complete() {
            println!(
                "nothing to send: every message of {source} ended in an earlier run (checkpoint {}; delete it to send them again)",
                path.display()
            );
            return Ok(ExitCode::SUCCESS);
        }
        if cp.ended_count() > 0 {
            eprintln!(
                "resuming {source}: {} of {} item(s) ended in earlier runs (checkpoint {})",
                cp.ended_count(),
                items.len(),
                path.display()
            );
        }
        // Written now, so an unwritable place fails before anything is sent.
        cp.save()?;
        Some(cp)
    } else {
        let path = checkpoint::path_for(Path::new(&source));
        if source != "-" && path.exists() {
            eprintln!(
                "note: {} is left from an interrupted run; this run sends everything (pass --resume to continue from it)",
                path.display()
            );
        }
        None
    };
    let forwarder = Forwarder::new(config(&origin, key, &args.delivery))?;

    // The file's item index of each message sent, so progress is recorded by item.
    let mut messages = Vec::new();
    let mut positions = Vec::new();
    let mut summary = Summary::default();
    for (index, item) in items.into_iter().enumerate() {
        if checkpoint.as_ref().is_some_and(|cp| cp.has_ended(index)) {
            continue;
        }
        match item {
            Item::Message(message) => {
                messages.push(message);
                positions.push(index);
            }
            Item::Invalid(invalid) => {
                forwarder.dead_letter_input(invalid.raw, &invalid.reason);
                summary.dead_lettered += 1;
                record(&mut checkpoint, index);
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
        .send_all_with(messages, |i, _| {
            if let Some(bar) = &progress {
                bar.inc(1);
            }
            record(&mut checkpoint, positions[i]);
        })
        .await;
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    if let Some(cp) = &mut checkpoint {
        cp.save()?;
    }
    summary.delivered += sent.delivered;
    summary.skipped += sent.skipped;
    summary.dead_lettered += sent.dead_lettered;
    summary.duplicates += sent.duplicates;
    summary.dropped_fields = sent.dropped_fields;

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

/// Records an ended item in the checkpoint, if there is one. A failed write is logged: the run
/// goes on (a later write may succeed), and a resume would send the unrecorded items again.
fn record(checkpoint: &mut Option<Checkpoint>, index: usize) {
    if let Some(cp) = checkpoint {
        if let Err(e) = cp.record(index) {
            tracing::warn!(error = %format!("{e:#}"), "send --resume: checkpoint not written");
        }
    }
}
