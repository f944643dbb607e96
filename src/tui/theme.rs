//! Colours: every style the view draws goes through a [`Theme`]. Four palettes
//! ([`ThemeName`]): `default` uses only the 16 named ANSI colours and
//! modifiers, so the terminal's own colour scheme applies; `high-contrast`
//! uses the bright ANSI colours, bold, and no dimmed text; `colorblind` tells
//! good from bad by blue and orange instead of green and red, and marks bad
//! with bold and underline as well (a cue that needs no colour); `mono` has no
//! colour at all. `NO_COLOR` (set and not empty) forces `mono`, whatever was chosen.

use crate::app::targets::Health;
pub use crate::config::ThemeName;
use crate::core::event::{Kind, Severity};
use ratatui::style::{Color, Modifier, Style};

/// Orange for the colour-blind-safe palette: xterm-256 colour 208. Orange and
/// blue stay apart for every common colour-vision deficiency; where a terminal
/// has fewer colours, the underline on bad still tells it apart.
const ORANGE: Color = Color::Indexed(208);

/// The palette in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    name: ThemeName,
}

/// A line colour for charts (no modifiers: a chart's line has only a colour).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tint {
    /// Good, or the lowest series (p50).
    Ok,
    /// Worrying (p95).
    Warn,
    /// Bad (p99, the error rate).
    Bad,
    /// A reference line (the threshold).
    Dim,
}

impl Theme {
    /// The theme called `name`.
    pub const fn of(name: ThemeName) -> Theme {
        Theme { name }
    }

    /// The theme to use: `wanted` (the `--theme` flag, else the config's
    /// `theme:`, else the default), except that `no_color` forces mono.
    pub fn choose(wanted: Option<ThemeName>, no_color: bool) -> Theme {
        if no_color {
            return Theme::of(ThemeName::Mono);
        }
        Theme::of(wanted.unwrap_or_default())
    }

    /// [`Theme::choose`] with `NO_COLOR` read from the environment.
    pub fn from_env(wanted: Option<ThemeName>) -> Theme {
        Theme::choose(
            wanted,
            std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
        )
    }

    /// Which palette this is.
    pub fn name(self) -> ThemeName {
        self.name
    }

    /// Whether it draws without colour.
    pub fn mono(self) -> bool {
        self.name == ThemeName::Mono
    }

    fn fg(self, c: Color) -> Style {
        if self.mono() {
            Style::default()
        } else {
            Style::default().fg(c)
        }
    }

    /// `c` as the background of a badge, with readable text on it.
    fn badge(self, bg: Color) -> Style {
        let fg = match bg {
            Color::Red | Color::Blue | Color::DarkGray | Color::Magenta => Color::White,
            _ => Color::Black,
        };
        Style::default().fg(fg).bg(bg).add_modifier(Modifier::BOLD)
    }

    /// The colour behind a tint in this palette (`None`: the terminal's own).
    fn tint_color(self, t: Tint) -> Option<Color> {
        use ThemeName as N;
        match (self.name, t) {
            (N::Mono, _) => None,
            (N::Default, Tint::Ok) => Some(Color::Green),
            (N::Default, Tint::Warn) => Some(Color::Yellow),
            (N::Default, Tint::Bad) => Some(Color::Red),
            (N::Default | N::Colorblind, Tint::Dim) => Some(Color::DarkGray),
            (N::HighContrast, Tint::Ok) => Some(Color::LightGreen),
            (N::HighContrast, Tint::Warn) => Some(Color::LightYellow),
            (N::HighContrast, Tint::Bad) => Some(Color::LightRed),
            (N::HighContrast, Tint::Dim) => None,
            (N::Colorblind, Tint::Ok) => Some(Color::LightBlue),
            (N::Colorblind, Tint::Warn) => Some(Color::Yellow),
            (N::Colorblind, Tint::Bad) => Some(ORANGE),
        }
    }

    /// A chart line in tint `t`.
    pub fn line(self, t: Tint) -> Style {
        self.tint_color(t)
            .map_or(Style::default(), |c| Style::default().fg(c))
    }

    /// Plain text.
    pub fn text(self) -> Style {
        Style::default()
    }
    /// Secondary text (plain in high contrast: dimmed text is hard to read).
    pub fn dim(self) -> Style {
        self.line(Tint::Dim)
    }
    /// A focused pane's border, the service name, the phase.
    pub fn focus(self) -> Style {
        let c = match self.name {
            ThemeName::HighContrast => Color::LightCyan,
            _ => Color::Cyan,
        };
        self.fg(c).add_modifier(Modifier::BOLD)
    }
    /// The selected row.
    pub fn selected(self) -> Style {
        let s = Style::default().add_modifier(Modifier::REVERSED);
        if self.name == ThemeName::HighContrast {
            s.add_modifier(Modifier::BOLD)
        } else {
            s
        }
    }
    /// Good.
    pub fn ok(self) -> Style {
        let s = self.line(Tint::Ok);
        if self.name == ThemeName::HighContrast {
            s.add_modifier(Modifier::BOLD)
        } else {
            s
        }
    }
    /// Bad: bold everywhere, and underlined where colour alone may not tell it
    /// (colour-blind safe, high contrast).
    pub fn bad(self) -> Style {
        let s = self.line(Tint::Bad).add_modifier(Modifier::BOLD);
        match self.name {
            ThemeName::Colorblind | ThemeName::HighContrast => s.add_modifier(Modifier::UNDERLINED),
            _ => s,
        }
    }
    /// Worrying.
    pub fn warn(self) -> Style {
        let s = self.line(Tint::Warn);
        if self.name == ThemeName::HighContrast {
            s.add_modifier(Modifier::BOLD)
        } else {
            s
        }
    }

    /// A health state.
    pub fn health(self, h: Health) -> Style {
        match h {
            Health::Unknown => self.dim(),
            Health::Ok => self.ok(),
            Health::Degraded => self.warn().add_modifier(Modifier::BOLD),
            Health::Down => self.bad(),
        }
    }

    /// The severity badge: readable text on the severity's colour.
    pub fn severity(self, s: Option<Severity>) -> Style {
        use ThemeName as N;
        let bg = match (self.name, s) {
            (N::Mono, _) => {
                return Style::default().add_modifier(Modifier::BOLD | Modifier::REVERSED);
            }
            (_, None) => Color::DarkGray,
            (N::Default, Some(Severity::Sev1)) => Color::Red,
            (N::Default, Some(Severity::Sev2)) => Color::LightRed,
            (N::Default, Some(Severity::Sev3)) => Color::Yellow,
            (N::Default, Some(Severity::Sev4)) => Color::Blue,
            (N::HighContrast, Some(Severity::Sev1)) => Color::LightRed,
            (N::HighContrast, Some(Severity::Sev2)) => Color::LightMagenta,
            (N::HighContrast, Some(Severity::Sev3)) => Color::LightYellow,
            (N::HighContrast, Some(Severity::Sev4)) => Color::LightCyan,
            (N::Colorblind, Some(Severity::Sev1)) => ORANGE,
            (N::Colorblind, Some(Severity::Sev2)) => Color::Yellow,
            (N::Colorblind, Some(Severity::Sev3)) => Color::LightBlue,
            (N::Colorblind, Some(Severity::Sev4)) => Color::Blue,
        };
        self.badge(bg)
    }

    /// The ALERT banner.
    pub fn banner(self) -> Style {
        match self.name {
            ThemeName::Mono => Style::default().add_modifier(Modifier::BOLD | Modifier::REVERSED),
            ThemeName::Default => self.badge(Color::Red),
            ThemeName::HighContrast => self.badge(Color::LightRed),
            ThemeName::Colorblind => self.badge(ORANGE),
        }
    }

    /// The environment badge: like the ALERT banner for a production-like
    /// environment (`prod` stands out), plain otherwise.
    pub fn environment(self, production: bool) -> Style {
        if production {
            self.banner()
        } else {
            self.text().add_modifier(Modifier::BOLD)
        }
    }

    /// A timeline kind.
    pub fn kind(self, k: Kind) -> Style {
        let hc = self.name == ThemeName::HighContrast;
        match k {
            Kind::SignalFired | Kind::IncidentOpened => self.bad(),
            Kind::SignalResolved | Kind::IncidentClosed | Kind::HypothesisConfirmed => self.ok(),
            Kind::SignalUpdated | Kind::SeveritySet => self.warn(),
            Kind::StepDone | Kind::StepSkipped | Kind::StepUndone | Kind::PhaseEntered => {
                self.fg(if hc { Color::LightCyan } else { Color::Cyan })
            }
            Kind::CommandRun
            | Kind::CommandStarted
            | Kind::CommandFinished
            | Kind::ChangeMarker
            | Kind::TargetSelected => self.fg(if hc {
                Color::LightMagenta
            } else {
                Color::Magenta
            }),
            Kind::CommsUpdate => self.fg(if hc { Color::LightBlue } else { Color::Blue }),
            _ => self.text(),
        }
    }
}

/// Whether an environment's name says production: one of its words (split
/// at anything but letters and digits) is `prod`, `production`, `prd` or
/// `live`, not right after `non` or `pre` (`non-prod` is not production).
pub fn is_production(environment: &str) -> bool {
    let words: Vec<String> = environment
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    words.iter().enumerate().any(|(i, w)| {
        matches!(w.as_str(), "prod" | "production" | "prd" | "live")
            && !(i > 0 && matches!(words[i - 1].as_str(), "non" | "pre" | "not"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every style a theme hands out, for checks over all of them.
    fn styles(th: Theme) -> Vec<Style> {
        let mut v = vec![
            th.text(),
            th.dim(),
            th.focus(),
            th.selected(),
            th.ok(),
            th.bad(),
            th.warn(),
            th.banner(),
            th.environment(true),
            th.environment(false),
        ];
        v.extend([Tint::Ok, Tint::Warn, Tint::Bad, Tint::Dim].map(|t| th.line(t)));
        v.extend(
            [Health::Unknown, Health::Ok, Health::Degraded, Health::Down].map(|h| th.health(h)),
        );
        v.extend(
            [
                None,
                Some(Severity::Sev1),
                Some(Severity::Sev2),
                Some(Severity::Sev3),
                Some(Severity::Sev4),
            ]
            .map(|s| th.severity(s)),
        );
        v.extend(
            [
                Kind::SignalFired,
                Kind::SignalResolved,
                Kind::SeveritySet,
                Kind::StepDone,
                Kind::CommandRun,
                Kind::CommsUpdate,
                Kind::Note,
            ]
            .map(|k| th.kind(k)),
        );
        v
    }

    fn colors(s: Style) -> impl Iterator<Item = Color> {
        s.fg.into_iter().chain(s.bg)
    }

    #[test]
    fn the_flag_beats_the_default_and_no_color_beats_everything() {
        assert_eq!(Theme::choose(None, false).name(), ThemeName::Default);
        for name in ThemeName::ALL {
            assert_eq!(Theme::choose(Some(name), false).name(), name);
            assert_eq!(Theme::choose(Some(name), true).name(), ThemeName::Mono);
        }
        assert!(Theme::choose(None, true).mono());
    }

    #[test]
    fn the_default_uses_only_the_terminals_named_colours() {
        for s in styles(Theme::of(ThemeName::Default)) {
            for c in colors(s) {
                assert!(
                    !matches!(c, Color::Rgb(..) | Color::Indexed(_)),
                    "{c:?} in {s:?} is not one of the terminal's 16 colours"
                );
            }
        }
        // High contrast too; only the colour-blind palette adds one: orange.
        for s in styles(Theme::of(ThemeName::HighContrast)) {
            assert!(colors(s).all(|c| !matches!(c, Color::Rgb(..) | Color::Indexed(_))));
        }
    }

    #[test]
    fn mono_has_no_colour_at_all() {
        for s in styles(Theme::of(ThemeName::Mono)) {
            assert_eq!(colors(s).count(), 0, "{s:?}");
        }
        // Bad, the banner and the badges still stand out.
        let th = Theme::of(ThemeName::Mono);
        assert!(th.bad().add_modifier.contains(Modifier::BOLD));
        assert!(th.banner().add_modifier.contains(Modifier::REVERSED));
        assert!(
            th.environment(true)
                .add_modifier
                .contains(Modifier::REVERSED)
        );
    }

    #[test]
    fn the_colour_blind_palette_has_no_red_or_green_and_marks_bad_without_colour() {
        let th = Theme::of(ThemeName::Colorblind);
        for s in styles(th) {
            for c in colors(s) {
                assert!(
                    !matches!(
                        c,
                        Color::Red | Color::LightRed | Color::Green | Color::LightGreen
                    ),
                    "{c:?} in {s:?}"
                );
            }
        }
        assert_eq!(th.ok().fg, Some(Color::LightBlue));
        assert_eq!(th.bad().fg, Some(ORANGE));
        assert!(
            th.bad()
                .add_modifier
                .contains(Modifier::BOLD | Modifier::UNDERLINED)
        );
    }

    #[test]
    fn high_contrast_is_bright_bold_and_never_dimmed() {
        let th = Theme::of(ThemeName::HighContrast);
        assert_eq!(th.dim(), Style::default());
        assert_eq!(th.ok().fg, Some(Color::LightGreen));
        for s in [th.ok(), th.warn(), th.bad(), th.focus(), th.selected()] {
            assert!(s.add_modifier.contains(Modifier::BOLD), "{s:?}");
        }
    }

    #[test]
    fn production_names_are_recognised_and_others_are_not() {
        for env in [
            "prod",
            "PROD",
            "production",
            "prd",
            "live",
            "prod-eu",
            "eu-west-1 prod",
            "Production (EU)",
        ] {
            assert!(is_production(env), "{env}");
        }
        for env in [
            "staging", "dev", "preprod", "pre-prod", "non-prod", "nonprod", "product", "delivery",
            "",
        ] {
            assert!(!is_production(env), "{env}");
        }
    }

    #[test]
    fn the_production_badge_is_red_and_inverted_by_default() {
        let th = Theme::of(ThemeName::Default);
        assert_eq!(th.environment(true).bg, Some(Color::Red));
        assert_eq!(th.environment(false).bg, None);
    }
}
