//! Prometheus metrics for every role: counters and histograms with labels, rendered in the text
//! exposition format (version 0.0.4) that `GET /metrics` serves. Series appear on first use;
//! names and label sets are the caller's (`peerflow_<role>_<what>_<unit>`).

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

    /// The value of counter `name{labels}` (0 if never incremented).
    pub fn counter(&self, name: &str, pairs: &[(&str, &str)]) -> f64 {
        let families = self.families.lock().expect("metrics");
        match families
            .get(name)
            .and_then(|f| f.series.get(&labels(pairs)))
        {
            Some(Series::Counter(v)) => *v,
            _ => 0.0,
        }
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
                    Series::Counter(v) => {
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
}
