//! Combos inside combos: the rule checked wherever combos are saved (the config file, the admin
//! API). A combo may list other combos down to `MAX_DEPTH` levels (the combo asked for is level
//! 1); a combo that reaches itself again is a cycle. Pure: it sees names and target lists only.

use std::collections::HashMap;

/// Deepest nesting: a combo, a combo inside it, and one more inside that.
pub const MAX_DEPTH: usize = 3;

/// Why a set of combos is refused: the combo at fault and the words for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NestingError {
    /// The combo whose targets break the rule.
    pub combo: String,
    /// What is wrong.
    pub message: String,
}

/// Checks every combo of `combos` (name → its targets; a target naming another combo nests it).
/// The first combo found at fault (in name order) is reported.
pub fn check<'a>(combos: &HashMap<&'a str, Vec<&'a str>>) -> Result<(), NestingError> {
    let mut names: Vec<&str> = combos.keys().copied().collect();
    names.sort_unstable();
    for name in names {
        let mut path = vec![name];
        walk(combos, name, &mut path)?;
    }
    Ok(())
}

fn walk<'a>(combos: &HashMap<&'a str, Vec<&'a str>>, at: &'a str, path: &mut Vec<&'a str>) -> Result<(), NestingError> {
    let Some(targets) = combos.get(at) else { return Ok(()) };
    for t in targets {
        if !combos.contains_key(t) {
            continue;
        }
        if path.contains(t) {
            let mut cycle: Vec<&str> = path.clone();
            cycle.push(t);
            return Err(NestingError {
                combo: path[0].to_string(),
                message: format!("combos may not form a cycle: {}", cycle.join(" → ")),
            });
        }
        path.push(t);
        if path.len() > MAX_DEPTH {
            return Err(NestingError {
                combo: path[0].to_string(),
                message: format!("combos nest at most {MAX_DEPTH} deep: {}", path.join(" → ")),
            });
        }
        walk(combos, t, path)?;
        path.pop();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph<'a>(edges: &[(&'a str, &[&'a str])]) -> HashMap<&'a str, Vec<&'a str>> {
        edges.iter().map(|(n, t)| (*n, t.to_vec())).collect()
    }

    #[test]
    fn nesting_to_three_levels_is_fine_and_a_fourth_is_refused() {
        let ok = graph(&[("a", &["b", "p/x"]), ("b", &["c"]), ("c", &["p/y"])]);
        assert_eq!(check(&ok), Ok(()));
        let deep = graph(&[("a", &["b"]), ("b", &["c"]), ("c", &["d"]), ("d", &["p/y"])]);
        let e = check(&deep).err().unwrap_or_else(|| NestingError { combo: String::new(), message: String::new() });
        assert_eq!(e.combo, "a");
        assert!(e.message.contains("a → b → c → d"), "{}", e.message);
    }

    #[test]
    fn cycles_are_refused_even_through_another_combo() {
        let self_loop = graph(&[("a", &["a"])]);
        assert!(check(&self_loop).is_err());
        let cycle = graph(&[("a", &["p/x", "b"]), ("b", &["a"])]);
        let e = check(&cycle).err().map(|e| e.message).unwrap_or_default();
        assert!(e.contains("cycle") && e.contains("a → b → a"), "{e}");
        // The same combo twice in a row is no cycle.
        let twice = graph(&[("a", &["b", "b"]), ("b", &["p/x"])]);
        assert_eq!(check(&twice), Ok(()));
    }
}
