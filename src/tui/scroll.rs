//! Scrolling lists: the first row to show so the selection stays in view
//! (moving only when the selection would leave it), and the "3 more ↓"
//! marks a pane's border carries when rows are out of sight.

use std::cell::Cell;

/// Where a list's window starts: kept from the last frame (in `offset`) and
/// moved just enough that row `selected` of `total` shows in `height` rows.
pub fn follow(offset: &Cell<usize>, total: usize, height: usize, selected: usize) -> usize {
    if height == 0 {
        return 0;
    }
    let mut o = offset.get();
    if selected < o {
        o = selected;
    } else if selected >= o + height {
        o = selected + 1 - height;
    }
    o = o.min(total.saturating_sub(height));
    offset.set(o);
    o
}

/// The border mark for `above` and `below` items out of sight (empty when none are).
pub fn more(above: usize, below: usize) -> String {
    match (above, below) {
        (0, 0) => String::new(),
        (a, 0) => format!(" {a} more ↑ "),
        (0, b) => format!(" {b} more ↓ "),
        (a, b) => format!(" {a} more ↑ · {b} more ↓ "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_moves_only_when_the_selection_would_leave_it() {
        let o = Cell::new(0);
        // 11 steps, 9 rows: down to the last one scrolls by two.
        for sel in 0..9 {
            assert_eq!(follow(&o, 11, 9, sel), 0, "row {sel}");
        }
        assert_eq!(follow(&o, 11, 9, 9), 1);
        assert_eq!(follow(&o, 11, 9, 10), 2);
        // Back up: the window stays until the selection reaches its top.
        assert_eq!(follow(&o, 11, 9, 5), 2);
        assert_eq!(follow(&o, 11, 9, 1), 1);
        // A list that shrank, a zero-height pane.
        assert_eq!(follow(&o, 3, 9, 0), 0);
        assert_eq!(follow(&o, 3, 0, 2), 0);
        assert_eq!(more(0, 0), "");
        assert_eq!(more(0, 3), " 3 more ↓ ");
        assert_eq!(more(2, 3), " 2 more ↑ · 3 more ↓ ");
    }
}
