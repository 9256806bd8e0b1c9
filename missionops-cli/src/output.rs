//! Rendering: tables for people, JSON for scripts, colour only where it helps.

use std::io::{IsTerminal, Write};

use anyhow::Context;
use comfy_table::{Cell, Color, ColumnConstraint, ContentArrangement, Table, presets};
use missionops_core::{OverallStatus, ParameterValue, Parameters, Severity};
use serde::Serialize;

/// The narrowest terminal that tables are wrapped to fit.
const MIN_WRAP_WIDTH: u16 = 40;

/// How results are printed on stdout.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Output {
    /// `--json`: one JSON document per command, numbers as the HTTP API prints them.
    json: bool,
    /// Whether cells may be coloured: stdout is a terminal, `--json` is off and `NO_COLOR` is
    /// unset (https://no-color.org).
    color: bool,
}

impl Output {
    /// The output mode for this run.
    pub(crate) fn new(json: bool) -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Output {
            json,
            color: !json && !no_color && std::io::stdout().is_terminal(),
        }
    }

    /// Whether `--json` was given.
    pub(crate) fn is_json(self) -> bool {
        self.json
    }

    /// Prints `value` as one line of compact JSON.
    pub(crate) fn json<T: Serialize + ?Sized>(self, value: &T) -> anyhow::Result<()> {
        let mut bytes = missionops_core::json::to_vec_js(value).context("cannot render JSON")?;
        bytes.push(b'\n');
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(&bytes)?;
        stdout.flush()?;
        Ok(())
    }

    /// Prints `text` and a newline.
    pub(crate) fn line(self, text: impl std::fmt::Display) -> anyhow::Result<()> {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{text}")?;
        stdout.flush()?;
        Ok(())
    }

    /// Prints `value` as JSON with `--json`, else the text `human` renders.
    pub(crate) fn either<T: Serialize + ?Sized>(
        self,
        value: &T,
        human: impl FnOnce() -> String,
    ) -> anyhow::Result<()> {
        if self.json {
            self.json(value)
        } else {
            self.line(human())
        }
    }

    /// An empty table with `header`, in the house style.
    pub(crate) fn table<const N: usize>(self, header: [&str; N]) -> Table {
        let mut table = Table::new();
        table
            .load_preset(presets::UTF8_FULL_CONDENSED)
            .set_header(header);
        if !std::io::stdout().is_terminal() {
            // Piped output keeps every row on one line, whatever the terminal width.
            table.force_no_tty();
        } else if table.width().is_some_and(|w| w >= MIN_WRAP_WIDTH) {
            // Wrap long cells to the terminal, unless it reports no usable width (some
            // pseudo-terminals say 0), where wrapping would squeeze every column to a letter.
            // Only the last column (parameters, descriptions, messages) wraps: ids and
            // timestamps cut in two are hard to read and to copy.
            table.set_content_arrangement(ContentArrangement::Dynamic);
            let last = N.saturating_sub(1);
            for column in table.column_iter_mut().take(last) {
                column.set_constraint(ColumnConstraint::ContentWidth);
            }
        }
        table
    }

    /// Prints `table`, or `empty` instead when it has no rows.
    pub(crate) fn table_or(self, table: &Table, empty: &str) -> anyhow::Result<()> {
        if table.row_count() == 0 {
            self.line(empty)
        } else {
            self.line(table)
        }
    }

    fn colored(self, text: &str, color: Color) -> Cell {
        let cell = Cell::new(text);
        if self.color { cell.fg(color) } else { cell }
    }

    /// A severity, coloured by how bad it is.
    pub(crate) fn severity(self, severity: Severity) -> Cell {
        let color = match severity {
            Severity::Low => Color::Grey,
            Severity::Medium => Color::Yellow,
            Severity::High | Severity::Critical => Color::Red,
        };
        self.colored(severity.as_str(), color)
    }

    /// An overall status, green, yellow or red.
    pub(crate) fn status(self, status: OverallStatus) -> Cell {
        let (text, color) = match status {
            OverallStatus::Nominal => ("NOMINAL", Color::Green),
            OverallStatus::Warning => ("WARNING", Color::Yellow),
            OverallStatus::Critical => ("CRITICAL", Color::Red),
        };
        self.colored(text, color)
    }
}

/// Parameters as `name=value` pairs in their order, for one table cell.
pub(crate) fn parameters(parameters: &Parameters) -> String {
    let mut text = String::new();
    for (i, (name, value)) in parameters.iter().enumerate() {
        if i > 0 {
            text.push_str(", ");
        }
        text.push_str(name.as_str());
        text.push('=');
        text.push_str(&value_text(value));
    }
    text
}

/// A value as people read it: numbers as JavaScript prints them, strings as they are.
pub(crate) fn value_text(value: &ParameterValue) -> String {
    value.to_string()
}

/// An optional value, `-` when absent.
pub(crate) fn or_dash<T: std::fmt::Display>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| v.to_string())
}
