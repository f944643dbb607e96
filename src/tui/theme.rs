//! Colours, with `NO_COLOR` respected: every style goes through here.

use crate::app::targets::Health;
use crate::core::event::{Kind, Severity};
use ratatui::style::{Color, Modifier, Style};

/// The palette in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    /// No colours at all (`NO_COLOR` set).
    pub mono: bool,
}

impl Theme {
    /// From the environment.
    pub fn from_env() -> Theme {
        Theme {
            mono: std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
        }
    }

    fn fg(self, c: Color) -> Style {
        if self.mono {
            Style::default()
        } else {
            Style::default().fg(c)
        }
    }

    /// Plain text.
    pub fn text(self) -> Style {
        Style::default()
    }
    /// Secondary text.
    pub fn dim(self) -> Style {
        if self.mono {
            Style::default()
        } else {
            Style::default().fg(Color::DarkGray)
        }
    }
    /// A focused pane's border.
    pub fn focus(self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }
    /// The selected row.
    pub fn selected(self) -> Style {
        Style::default().add_modifier(Modifier::REVERSED)
    }
    /// Good.
    pub fn ok(self) -> Style {
        self.fg(Color::Green)
    }
    /// Bad.
    pub fn bad(self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }
    /// Worrying.
    pub fn warn(self) -> Style {
        self.fg(Color::Yellow)
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

    /// The severity badge: white on the severity's colour.
    pub fn severity(self, s: Option<Severity>) -> Style {
        if self.mono {
            return Style::default().add_modifier(Modifier::BOLD | Modifier::REVERSED);
        }
        let bg = match s {
            Some(Severity::Sev1) => Color::Red,
            Some(Severity::Sev2) => Color::LightRed,
            Some(Severity::Sev3) => Color::Yellow,
            Some(Severity::Sev4) => Color::Blue,
            None => Color::DarkGray,
        };
        Style::default()
            .fg(Color::White)
            .bg(bg)
            .add_modifier(Modifier::BOLD)
    }

    /// The ALERT banner.
    pub fn banner(self) -> Style {
        if self.mono {
            Style::default().add_modifier(Modifier::BOLD | Modifier::REVERSED)
        } else {
            Style::default()
                .fg(Color::White)
                .bg(Color::Red)
                .add_modifier(Modifier::BOLD)
        }
    }

    /// A timeline kind.
    pub fn kind(self, k: Kind) -> Style {
        match k {
            Kind::SignalFired | Kind::IncidentOpened => self.bad(),
            Kind::SignalResolved | Kind::IncidentClosed | Kind::HypothesisConfirmed => self.ok(),
            Kind::SignalUpdated | Kind::SeveritySet => self.warn(),
            Kind::StepDone | Kind::StepSkipped | Kind::StepUndone | Kind::PhaseEntered => {
                self.fg(Color::Cyan)
            }
            Kind::CommandRun
            | Kind::CommandStarted
            | Kind::CommandFinished
            | Kind::ChangeMarker
            | Kind::TargetSelected => self.fg(Color::Magenta),
            Kind::CommsUpdate => self.fg(Color::Blue),
            _ => self.text(),
        }
    }
}
