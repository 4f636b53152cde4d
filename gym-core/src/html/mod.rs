//! The HTML report: one self-contained page (inline CSS and SVG, no script, no network)
//! for an episode directory or an eval result, readable on a laptop and printable.
//!
//! [`load_episode_dir`] reads what [`crate::artifacts::write_episode_dir`] wrote;
//! [`episode_page`] and [`eval_page`] render. The sections carry stable ids
//! (`timeline`, `metrics`, `trajectory`, `report-vs-truth`, `score`, `eval-scores`) so
//! that tests and links can find them.

mod episode;
mod eval;
mod load;
mod style;
pub mod svg;
mod verdict;

#[cfg(test)]
mod tests;

pub use episode::{episode_page, episode_sections};
pub use eval::eval_page;
pub use load::{load_episode_dir, Episode, HtmlError, MetricRow};

/// Escapes text for HTML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Wraps sections in a complete page with the stylesheet.
pub(crate) fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{}</style></head><body><main>{body}</main></body></html>\n",
        escape(title),
        style::CSS
    )
}
