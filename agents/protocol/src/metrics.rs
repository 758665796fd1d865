//! Prometheus metrics for every role: counters and histograms with labels, rendered in the text
//! exposition format (version 0.0.4) that `GET /metrics` serves. Series appear on first use;
//! names and label sets are the caller's (`peerflow_<role>_<what>_<unit>`). Gauges hold the latest
//! value set; [`Exposition`] parses rendered text back (for tests and tools).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

/// The `Content-Type` of [`Metrics::render`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Upper bounds (seconds) for latency histograms: 10 ms to 30 s.
pub const LATENCY_BUCKETS: &[f64] = &[0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

type Labels = Vec<(String, String)>;

#[derive(Debug)]
enum Series {
    Counter(f64),
    Gauge(f64),
    Histogram {
        bounds: &'static [f64],
        /// Observations at or under each bound (not cumulative; summed when rendered).
        counts: Vec<u64>,
        sum: f64,
        count: u64,
    },
}

#[derive(Debug)]
struct Family {
    help: &'static str,
    kind: &'static str,
    series: BTreeMap<Labels, Series>,
}

/// A set of metrics, shared by a role's tasks.
#[derive(Debug, Default)]
pub struct Metrics {
    families: Mutex<BTreeMap<&'static str, Family>>,
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

impl Metrics {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `by` to counter `name{labels}`.
    pub fn add(&self, name: &'static str, help: &'static str, pairs: &[(&str, &str)], by: f64) {
        let mut families = self.families.lock().expect("metrics");
        let family = families.entry(name).or_insert_with(|| Family {
            help,
            kind: "counter",
            series: BTreeMap::new(),
        });
        if let Series::Counter(v) = family
            .series
            .entry(labels(pairs))
            .or_insert(Series::Counter(0.0))
        {
            *v += by;
        }
    }

    /// Adds one to counter `name{labels}`.
    pub fn inc(&self, name: &'static str, help: &'static str, pairs: &[(&str, &str)]) {
        self.add(name, help, pairs, 1.0);
    }

    /// Records `value` in histogram `name{labels}` with upper bounds `bounds` (ascending).
    pub fn observe(
        &self,
        name: &'static str,
        help: &'static str,
        bounds: &'static [f64],
        pairs: &[(&str, &str)],
        value: f64,
    ) {
        let mut families = self.families.lock().expect("metrics");
        let family = families.entry(name).or_insert_with(|| Family {
            help,
            kind: "histogram",
            series: BTreeMap::new(),
        });
        let series = family
            .series
            .entry(labels(pairs))
            .or_insert_with(|| Series::Histogram {
                bounds,
                counts: vec![0; bounds.len()],
                sum: 0.0,
                count: 0,
            });
        if let Series::Histogram {
            bounds,
            counts,
            sum,
            count,
        } = series
        {
            if let Some(i) = bounds.iter().position(|b| value <= *b) {
                counts[i] += 1;
            }
            *sum += value;
            *count += 1;
        }
    }

    /// Sets gauge `name{labels}` to `value`.
    pub fn set(&self, name: &'static str, help: &'static str, pairs: &[(&str, &str)], value: f64) {
        let mut families = self.families.lock().expect("metrics");
        let family = families.entry(name).or_insert_with(|| Family {
            help,
            kind: "gauge",
            series: BTreeMap::new(),
        });
        family.series.insert(labels(pairs), Series::Gauge(value));
    }

    /// Adds `delta` (may be negative) to gauge `name{labels}`.
    pub fn shift(
        &self,
        name: &'static str,
        help: &'static str,
        pairs: &[(&str, &str)],
        delta: f64,
    ) {
        let mut families = self.families.lock().expect("metrics");
        let family = families.entry(name).or_insert_with(|| Family {
            help,
            kind: "gauge",
            series: BTreeMap::new(),
        });
        if let Series::Gauge(v) = family
            .series
            .entry(labels(pairs))
            .or_insert(Series::Gauge(0.0))
        {
            *v += delta;
        }
    }

    /// Replaces every series of gauge `name` by `series` (so label sets that went away, such as a
    /// disconnected transcoder, stop being reported).
    pub fn set_all(
        &self,
        name: &'static str,
        help: &'static str,
        series: &[(Vec<(&str, &str)>, f64)],
    ) {
        let mut families = self.families.lock().expect("metrics");
        let family = families.entry(name).or_insert_with(|| Family {
            help,
            kind: "gauge",
            series: BTreeMap::new(),
        });
        family.series = series
            .iter()
            .map(|(pairs, v)| (labels(pairs), Series::Gauge(*v)))
            .collect();
    }

    /// The value of counter or gauge `name{labels}` (0 if never set).
    pub fn counter(&self, name: &str, pairs: &[(&str, &str)]) -> f64 {
        let families = self.families.lock().expect("metrics");
        match families
            .get(name)
            .and_then(|f| f.series.get(&labels(pairs)))
        {
            Some(Series::Counter(v) | Series::Gauge(v)) => *v,
            _ => 0.0,
        }
    }

    /// The sum of counter or gauge `name` over all its label sets (0 if never set).
    pub fn sum(&self, name: &str) -> f64 {
        let families = self.families.lock().expect("metrics");
        families.get(name).map_or(0.0, |f| {
            f.series
                .values()
                .map(|s| match s {
                    Series::Counter(v) | Series::Gauge(v) => *v,
                    Series::Histogram { .. } => 0.0,
                })
                .sum()
        })
    }

    /// Every series in the text exposition format.
    pub fn render(&self) -> String {
        let families = self.families.lock().expect("metrics");
        let mut out = String::new();
        for (name, family) in families.iter() {
            let _ = writeln!(out, "# HELP {name} {}", family.help);
            let _ = writeln!(out, "# TYPE {name} {}", family.kind);
            for (labels, series) in &family.series {
                match series {
                    Series::Counter(v) | Series::Gauge(v) => {
                        let _ = writeln!(out, "{name}{} {v}", render_labels(labels, None));
                    }
                    Series::Histogram {
                        bounds,
                        counts,
                        sum,
                        count,
                    } => {
                        let mut cumulative = 0;
                        for (bound, n) in bounds.iter().zip(counts) {
                            cumulative += n;
                            let le = bound.to_string();
                            let _ = writeln!(
                                out,
                                "{name}_bucket{} {cumulative}",
                                render_labels(labels, Some(&le))
                            );
                        }
                        let _ = writeln!(
                            out,
                            "{name}_bucket{} {count}",
                            render_labels(labels, Some("+Inf"))
                        );
                        let _ = writeln!(out, "{name}_sum{} {sum}", render_labels(labels, None));
                        let _ =
                            writeln!(out, "{name}_count{} {count}", render_labels(labels, None));
                    }
                }
            }
        }
        out
    }
}

/// `{a="x",le="0.5"}`, values escaped; empty without labels.
fn render_labels(labels: &Labels, le: Option<&str>) -> String {
    let mut parts: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    if let Some(le) = le {
        parts.push(format!("le=\"{le}\""));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Text that is not in the exposition format.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct ParseError {
    pub line: usize,
    pub reason: &'static str,
}

/// Samples parsed from the text exposition format: `name{labels} value` lines (comments skipped).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Exposition {
    samples: BTreeMap<(String, Labels), f64>,
}

impl Exposition {
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let mut samples = BTreeMap::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |reason| ParseError {
                line: i + 1,
                reason,
            };
            let (series, value) = line.rsplit_once(' ').ok_or(bad("no value"))?;
            let value: f64 = match value {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                v => v.parse().map_err(|_| bad("value is not a number"))?,
            };
            let (name, mut labels) = match series.split_once('{') {
                None => (series.to_owned(), Labels::new()),
                Some((name, rest)) => {
                    let body = rest.strip_suffix('}').ok_or(bad("unclosed labels"))?;
                    (
                        name.to_owned(),
                        parse_labels(body).ok_or(bad("bad labels"))?,
                    )
                }
            };
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
            {
                return Err(bad("bad metric name"));
            }
            labels.sort();
            samples.insert((name, labels), value);
        }
        Ok(Self { samples })
    }

    /// The sample `name{labels}` (labels in any order), if present.
    pub fn get(&self, name: &str, pairs: &[(&str, &str)]) -> Option<f64> {
        let mut key = labels(pairs);
        key.sort();
        self.samples.get(&(name.to_owned(), key)).copied()
    }

    /// The sample `name{labels}`, or 0 when absent (a counter never incremented).
    pub fn value(&self, name: &str, pairs: &[(&str, &str)]) -> f64 {
        self.get(name, pairs).unwrap_or(0.0)
    }

    /// Every sample of `name`, with its labels.
    pub fn series(&self, name: &str) -> Vec<(Vec<(String, String)>, f64)> {
        self.samples
            .iter()
            .filter(|((n, _), _)| n == name)
            .map(|((_, l), v)| (l.clone(), *v))
            .collect()
    }

    /// The sum of every sample of `name` (a counter over all its label sets).
    pub fn sum(&self, name: &str) -> f64 {
        self.series(name).iter().map(|(_, v)| v).sum()
    }
}

/// `a="x",b="y\"z"` into pairs; `None` if malformed.
fn parse_labels(body: &str) -> Option<Labels> {
    let mut out = Labels::new();
    let mut rest = body;
    while !rest.is_empty() {
        let (key, after) = rest.split_once("=\"")?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next()? {
                (i, '"') => break i,
                (_, '\\') => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    c => value.push(c),
                },
                (_, c) => value.push(c),
            }
        };
        out.push((key.trim().to_owned(), value));
        rest = after[end + 1..].trim_start_matches(',');
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_histograms_render_in_the_text_format() {
        let m = Metrics::new();
        m.inc("pf_segments_total", "Segments.", &[("outcome", "ok")]);
        m.inc("pf_segments_total", "Segments.", &[("outcome", "ok")]);
        m.inc("pf_segments_total", "Segments.", &[("outcome", "a\"b")]);
        m.observe("pf_latency_seconds", "Latency.", &[0.1, 1.0], &[], 0.05);
        m.observe("pf_latency_seconds", "Latency.", &[0.1, 1.0], &[], 0.5);
        m.observe("pf_latency_seconds", "Latency.", &[0.1, 1.0], &[], 7.0);
        assert_eq!(m.counter("pf_segments_total", &[("outcome", "ok")]), 2.0);
        assert_eq!(m.counter("pf_segments_total", &[("outcome", "none")]), 0.0);
        let text = m.render();
        let expected = "# HELP pf_latency_seconds Latency.\n\
                        # TYPE pf_latency_seconds histogram\n\
                        pf_latency_seconds_bucket{le=\"0.1\"} 1\n\
                        pf_latency_seconds_bucket{le=\"1\"} 2\n\
                        pf_latency_seconds_bucket{le=\"+Inf\"} 3\n\
                        pf_latency_seconds_sum 7.55\n\
                        pf_latency_seconds_count 3\n\
                        # HELP pf_segments_total Segments.\n\
                        # TYPE pf_segments_total counter\n\
                        pf_segments_total{outcome=\"a\\\"b\"} 1\n\
                        pf_segments_total{outcome=\"ok\"} 2\n";
        assert_eq!(text, expected);
    }

    #[test]
    fn gauges_replace_and_rendered_text_parses_back() {
        let m = Metrics::new();
        m.set("pf_load", "Load.", &[("t", "a")], 3.0);
        m.set("pf_load", "Load.", &[("t", "a")], 2.0);
        m.set("pf_load", "Load.", &[("t", "b")], 1.0);
        m.shift("pf_load", "Load.", &[("t", "b")], 2.0);
        m.shift("pf_load", "Load.", &[("t", "b")], -2.0);
        assert_eq!(m.counter("pf_load", &[("t", "a")]), 2.0);
        assert_eq!(m.sum("pf_load"), 3.0);
        assert_eq!(m.sum("pf_none"), 0.0);
        m.inc("pf_x_total", "X.", &[("k", "q\"u\\o\nte"), ("z", "1")]);
        m.observe("pf_s", "S.", &[0.5], &[], 0.25);
        let parsed = Exposition::parse(&m.render()).unwrap();
        assert_eq!(parsed.get("pf_load", &[("t", "a")]), Some(2.0));
        assert_eq!(parsed.sum("pf_load"), 3.0);
        assert_eq!(
            parsed.get("pf_x_total", &[("z", "1"), ("k", "q\"u\\o\nte")]),
            Some(1.0)
        );
        assert_eq!(parsed.get("pf_s_bucket", &[("le", "+Inf")]), Some(1.0));
        assert_eq!(parsed.get("pf_s_count", &[]), Some(1.0));
        assert_eq!(parsed.value("pf_absent_total", &[]), 0.0);
        assert!(m.render().contains("# TYPE pf_load gauge"));

        m.set_all("pf_load", "Load.", &[(vec![("t", "c")], 5.0)]);
        let parsed = Exposition::parse(&m.render()).unwrap();
        assert_eq!(
            parsed.series("pf_load"),
            vec![(vec![("t".into(), "c".into())], 5.0)]
        );

        assert!(Exposition::parse("pf_a{x=\"1\" 2").is_err());
        assert!(Exposition::parse("pf_a notanumber").is_err());
    }
}
