//! `consul-ecs migrate-config [FILE]`: write the v0.10 (Consul Dataplane) equivalent of a
//! v0.6.2 config to stdout (the output), and in the log (stderr) what did not carry over
//! unchanged, by JSON path.
//! The translation is `config::migrate`.

use config::migrate::NoteKind;

use crate::cli::MigrateConfigArgs;
use crate::config_document;
use crate::exit;
use crate::logging::output;

/// Exit code when the output needs the operator before it is used (documented with the
/// subcommand; 1 stays "the input cannot be used").
const NEEDS_DECISION: i32 = 2;

pub fn run(args: &MigrateConfigArgs) -> i32 {
    let file = args.file.as_deref().or(args.config_file.as_deref());
    let document = match config_document::read(file) {
        Ok(document) => document,
        Err(e) => {
            tracing::error!("{e}");
            return exit::USAGE;
        }
    };
    let migration = match config::migrate::migrate_text(&document.text) {
        Ok(migration) => migration,
        Err(e) => {
            tracing::error!("{}: {e}", document.source);
            return exit::USAGE;
        }
    };
    output!("{}", migration.to_json_pretty());
    // The notes are the log: a decision is a warning, a change information.
    for note in &migration.notes {
        match note.kind {
            NoteKind::Decision => tracing::warn!("{note}"),
            NoteKind::Changed => tracing::info!("{note}"),
        }
    }
    if migration.needs_decision() {
        let count = migration
            .notes
            .iter()
            .filter(|n| n.kind == NoteKind::Decision)
            .count();
        tracing::warn!(
            "{count} setting{} need{} a decision before this config is used (lines marked decide:)",
            if count == 1 { "" } else { "s" },
            if count == 1 { "s" } else { "" }
        );
        NEEDS_DECISION
    } else {
        exit::OK
    }
}
