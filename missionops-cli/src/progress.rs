//! Progress bars on stderr, drawn only when stderr is a terminal so that logs and pipes stay
//! clean.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

fn visible() -> bool {
    std::io::stderr().is_terminal()
}

/// A bar of `len` units (`unit` names them: `snapshots`, `bytes`).
pub(crate) fn bar(len: u64, unit: &str) -> ProgressBar {
    if !visible() {
        return ProgressBar::hidden();
    }
    let template = if unit == "bytes" {
        "{msg:>14} [{bar:40}] {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta})".to_owned()
    } else {
        format!(
            "{{msg:>14}} [{{bar:40}}] {{human_pos}}/{{human_len}} {unit} ({{elapsed}}, eta {{eta}})"
        )
    };
    let style = ProgressStyle::with_template(&template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    bar.set_style(style);
    bar
}

/// A spinner counting `unit`s, for work of unknown size.
pub(crate) fn counter(unit: &str) -> ProgressBar {
    if !visible() {
        return ProgressBar::hidden();
    }
    let style =
        ProgressStyle::with_template(&format!("{{spinner}} {{msg}} {{pos}} {unit} ({{per_sec}})"))
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(style);
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}
