//! Markdown and charts as one self-contained HTML page (the postmortem's and
//! `ic report`'s): CommonMark with tables, each `![title](chart:N)` replaced
//! by chart N's SVG, a stylesheet of its own that prints well, nothing
//! fetched from anywhere. The Markdown's writers escape what comes from a
//! timeline, so every tag on the page is ours. Pure.

use crate::core::chart::{Chart, xml};

/// The page titled `title` for `md`, with `charts` where it references them.
pub fn html(title: &str, md: &str, charts: &[Chart]) -> String {
    let parser = pulldown_cmark::Parser::new_ext(md, pulldown_cmark::Options::ENABLE_TABLES);
    let mut body = String::new();
    pulldown_cmark::html::push_html(&mut body, parser);
    for (i, c) in charts.iter().enumerate() {
        let tag = format!("<img src=\"chart:{i}\"");
        if let Some(start) = body.find(&tag)
            && let Some(len) = body[start..].find("/>")
        {
            let figure = format!("<figure class=\"chart\">{}</figure>", c.svg());
            body.replace_range(start..start + len + 2, &figure);
        }
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n<main>\n{body}</main>\n</body>\n</html>\n",
        xml(title)
    )
}

/// The page's stylesheet: readable on screen, tables and charts kept whole in print.
const STYLE: &str = "body { font-family: system-ui, sans-serif; color: #222; background: #fff; margin: 0; }
main { max-width: 60rem; margin: 0 auto; padding: 1.5rem; line-height: 1.45; }
h1 { font-size: 1.7rem; border-bottom: 2px solid #c0392b; padding-bottom: .3rem; }
h2 { font-size: 1.25rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: .6rem 0; font-size: .92rem; }
th, td { border: 1px solid #ccc; padding: .25rem .5rem; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
code { background: #f3f3f3; padding: 0 .2rem; }
figure.chart { margin: .8rem 0; }
figure.chart svg { max-width: 100%; height: auto; border: 1px solid #eee; }
@media print { main { max-width: none; padding: 0; } h2 { break-after: avoid; } table, figure.chart { break-inside: avoid; } }
";
