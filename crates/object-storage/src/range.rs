//! `Range: bytes=…` as Swift (swob) reads it: a header it cannot parse is
//! ignored (the whole object is sent), ranges past the end are dropped, and
//! only when none is left is the answer 416.

/// What to send for a `Range` header on an object of `size` bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum RangeAnswer {
    /// No usable header: the whole object, 200.
    Whole,
    /// 206 with these `(first byte, length)` spans, in the order asked.
    Partial(Vec<(u64, u64)>),
    /// 416.
    Unsatisfiable,
}

pub fn resolve(header: Option<&str>, size: u64) -> RangeAnswer {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return RangeAnswer::Whole;
    };
    let mut asked = Vec::new();
    for part in spec.split(',') {
        let part = part.trim();
        let Some((a, b)) = part.split_once('-') else {
            return RangeAnswer::Whole;
        };
        let (a, b) = (a.trim(), b.trim());
        let num = |s: &str| -> Option<u64> {
            if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
                None
            } else {
                s.parse().ok()
            }
        };
        match (a.is_empty(), b.is_empty()) {
            (true, true) => return RangeAnswer::Whole,
            (true, false) => match num(b) {
                Some(n) => asked.push((None, Some(n))),
                None => return RangeAnswer::Whole,
            },
            (false, _) => {
                let Some(first) = num(a) else { return RangeAnswer::Whole };
                let last = if b.is_empty() {
                    None
                } else {
                    match num(b) {
                        Some(l) if l >= first => Some(l),
                        _ => return RangeAnswer::Whole,
                    }
                };
                asked.push((Some(first), last));
            }
        }
    }
    if asked.is_empty() {
        return RangeAnswer::Whole;
    }
    if size == 0 {
        return RangeAnswer::Whole;
    }
    let mut spans = Vec::new();
    for (first, last) in asked {
        match (first, last) {
            (None, Some(n)) => {
                if n == 0 {
                    continue;
                }
                let n = n.min(size);
                spans.push((size - n, n));
            }
            (Some(f), last) => {
                if f >= size {
                    continue;
                }
                let l = last.unwrap_or(size - 1).min(size - 1);
                spans.push((f, l - f + 1));
            }
            (None, None) => {}
        }
    }
    if spans.is_empty() {
        RangeAnswer::Unsatisfiable
    } else {
        RangeAnswer::Partial(spans)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RangeAnswer::*;

    #[test]
    fn single_ranges() {
        assert_eq!(resolve(None, 10), Whole);
        assert_eq!(resolve(Some("bytes=0-3"), 10), Partial(vec![(0, 4)]));
        assert_eq!(resolve(Some("bytes=5-"), 10), Partial(vec![(5, 5)]));
        assert_eq!(resolve(Some("bytes=-3"), 10), Partial(vec![(7, 3)]));
        assert_eq!(resolve(Some("bytes=-30"), 10), Partial(vec![(0, 10)]));
        assert_eq!(resolve(Some("bytes=8-100"), 10), Partial(vec![(8, 2)]));
    }

    #[test]
    fn unsatisfiable_and_ignored() {
        assert_eq!(resolve(Some("bytes=10-20"), 10), Unsatisfiable);
        assert_eq!(resolve(Some("bytes=-0"), 10), Unsatisfiable);
        assert_eq!(resolve(Some("bytes=3-1"), 10), Whole);
        assert_eq!(resolve(Some("bytes=a-b"), 10), Whole);
        assert_eq!(resolve(Some("items=0-1"), 10), Whole);
        assert_eq!(resolve(Some("bytes=0-1"), 0), Whole);
    }

    #[test]
    fn multiple_ranges_drop_what_is_past_the_end() {
        assert_eq!(
            resolve(Some("bytes=0-1,4-5, 20-30,-2"), 10),
            Partial(vec![(0, 2), (4, 2), (8, 2)])
        );
    }
}
