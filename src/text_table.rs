//! The human form of the CLI's `list` commands: left-aligned columns, each as wide as its widest
//! cell, so ids, emails and timestamps of any length stay aligned. `--json` is the form for scripts.

/// Renders `headings` and `rows` as columns separated by one space; the last column is not padded.
pub fn render<const N: usize>(
    headings: [&str; N],
    rows: impl IntoIterator<Item = [String; N]>,
) -> String {
    let rows: Vec<[String; N]> = rows.into_iter().collect();
    let mut widths = headings.map(|h| h.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let headings = headings.map(str::to_owned);
    for (n, row) in std::iter::once(&headings).chain(&rows).enumerate() {
        if n > 0 {
            out.push('\n');
        }
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == N {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$} ", width = widths[i]));
            }
        }
        out.push_str(line.trim_end());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn columns_are_as_wide_as_their_widest_cell() {
        let rows = [
            ["a1".to_string(), "alice@example.com".to_string(), "yes".to_string()],
            ["b".to_string(), "bo".to_string(), "no".to_string()],
        ];
        assert_eq!(
            render(["ID", "EMAIL", "OK"], rows),
            "ID EMAIL             OK\na1 alice@example.com yes\nb  bo                no"
        );
    }

    #[test]
    fn an_empty_list_is_the_heading_line() {
        assert_eq!(render(["ID", "NAME"], Vec::<[String; 2]>::new()), "ID NAME");
    }

    #[test]
    fn widths_count_characters_not_bytes() {
        let rows = [["Zoë".to_string(), "x".to_string()]];
        assert_eq!(render(["N", "V"], rows), "N   V\nZoë x");
    }
}
