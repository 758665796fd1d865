//! Metering an interval and checking it.
//!
//! The provider reads the container's cgroup counters at the end of every interval; the usage of
//! the interval is the difference from the reading before (memory: the mean of the two readings
//! over the interval's wall time), priced at the lease's rates ([`RateCard::quote`]).
//!
//! The buyer checks every interval before it pays ([`check_interval`]): the intervals follow each
//! other without gaps or overlaps, the usage is possible for what the lease may use (CPU time at
//! most the lease's CPUs times the wall time, memory at most its limit), the charge is exactly
//! `rates · usage` and the ticket's face value is exactly what makes its expected value the
//! charge. Then it compares the CPU time charged so far with the container's own counter, read
//! from inside ([`AUDIT_CMD`], [`check_audit`]): a provider that reports more CPU than the
//! container used is refused.

use alloy::primitives::U256;
use peerflow_compute::manifest::MeteredUsage;
pub use peerflow_orchestrator::params::face_value_for;
use peerflow_runner::cgroup::Counters;
use serde::{Deserialize, Serialize};

use crate::proto::{Interval, Terms};

const MB: f64 = 1024.0 * 1024.0;

/// Counters of a lease's container at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Reading {
    pub at_ms: u64,
    pub cpu_ns: u64,
    pub memory_bytes: u64,
    /// Block I/O read and written.
    pub io_bytes: u64,
}

impl Reading {
    /// From cgroup counters (a missing counter reads as zero).
    pub fn from_counters(at_ms: u64, c: &Counters) -> Reading {
        Reading {
            at_ms,
            cpu_ns: c.cpu_ns.unwrap_or(0),
            memory_bytes: c.memory_bytes.unwrap_or(0),
            io_bytes: c.io_read_bytes.unwrap_or(0) + c.io_write_bytes.unwrap_or(0),
        }
    }
}

/// Usage between two readings of the same container.
pub fn usage_between(before: &Reading, after: &Reading) -> MeteredUsage {
    let wall = after.at_ms.saturating_sub(before.at_ms) as f64 / 1000.0;
    let mean_memory = (before.memory_bytes as f64 + after.memory_bytes as f64) / 2.0;
    MeteredUsage {
        cpu_seconds: after.cpu_ns.saturating_sub(before.cpu_ns) as f64 / 1e9,
        memory_mb_seconds: mean_memory / MB * wall,
        io_mb: after.io_bytes.saturating_sub(before.io_bytes) as f64 / MB,
        peak_memory_bytes: before.memory_bytes.max(after.memory_bytes),
        wall_seconds: wall,
        samples: 2,
    }
}

/// Slack allowed on measured quantities (relative), and absolute slack on CPU seconds (a CFS
/// quota period may overrun) and on wall time.
const REL_SLACK: f64 = 0.02;
const CPU_SLACK_S: f64 = 0.1;
const WALL_SLACK_S: f64 = 0.05;

/// Why a buyer refuses an interval.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MeterRefusal {
    #[error("interval {got} came where {want} was due")]
    Sequence { want: u64, got: u64 },
    #[error("interval {seq} starts at {start_ms}, the one before ended at {prev_end_ms}")]
    Gap {
        seq: u64,
        start_ms: u64,
        prev_end_ms: u64,
    },
    #[error("interval {seq}: {what}")]
    Implausible { seq: u64, what: String },
    #[error("interval {seq} charges {charged}, its usage at the agreed rates is {quoted}")]
    Charge {
        seq: u64,
        charged: U256,
        quoted: U256,
    },
    #[error("interval {seq}: ticket {what}")]
    Ticket { seq: u64, what: String },
    #[error(
        "{charged_cpu_s:.3} CPU seconds charged so far, the container's own counter says {measured_cpu_s:.3}"
    )]
    OverReported {
        charged_cpu_s: f64,
        measured_cpu_s: f64,
    },
}

impl MeterRefusal {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Sequence { .. } | Self::Gap { .. } => "interval_sequence",
            Self::Implausible { .. } => "implausible_usage",
            Self::Charge { .. } => "wrong_charge",
            Self::Ticket { .. } => "wrong_ticket",
            Self::OverReported { .. } => "over_reported",
        }
    }
}

/// Checks interval `i` of a lease on `terms`: `want` is the sequence number due, `prev_end_ms`
/// where the interval before ended (`None` for the first one).
pub fn check_interval(
    terms: &Terms,
    want: u64,
    prev_end_ms: Option<u64>,
    i: &Interval,
) -> Result<(), MeterRefusal> {
    let implausible = |what: String| MeterRefusal::Implausible { seq: i.seq, what };
    if i.seq != want {
        return Err(MeterRefusal::Sequence { want, got: i.seq });
    }
    if let Some(prev_end_ms) = prev_end_ms
        && i.start_ms != prev_end_ms
    {
        return Err(MeterRefusal::Gap {
            seq: i.seq,
            start_ms: i.start_ms,
            prev_end_ms,
        });
    }
    if i.end_ms < i.start_ms {
        return Err(implausible("it ends before it starts".into()));
    }
    let u = &i.usage;
    for (name, v) in [
        ("cpu_seconds", u.cpu_seconds),
        ("memory_mb_seconds", u.memory_mb_seconds),
        ("io_mb", u.io_mb),
        ("wall_seconds", u.wall_seconds),
    ] {
        if !v.is_finite() || v < 0.0 {
            return Err(implausible(format!("{name} is {v}")));
        }
    }
    let wall = (i.end_ms - i.start_ms) as f64 / 1000.0;
    if (u.wall_seconds - wall).abs() > WALL_SLACK_S + wall * REL_SLACK {
        return Err(implausible(format!(
            "{} wall seconds in an interval of {wall}",
            u.wall_seconds
        )));
    }
    let cpus = f64::from(terms.milli_cpus) / 1000.0;
    let max_cpu = cpus * wall * (1.0 + REL_SLACK) + CPU_SLACK_S;
    if u.cpu_seconds > max_cpu {
        return Err(implausible(format!(
            "{:.3} CPU seconds in {wall:.3} s with {cpus} CPUs",
            u.cpu_seconds
        )));
    }
    let limit_mb = terms.memory_mb as f64;
    if u.memory_mb_seconds > limit_mb * wall * (1.0 + REL_SLACK) + 1.0 {
        return Err(implausible(format!(
            "{:.1} MB·s in {wall:.3} s with a {limit_mb} MB limit",
            u.memory_mb_seconds
        )));
    }
    if u.io_mb > terms.io_mb_per_second * wall * (1.0 + REL_SLACK) + 1.0 {
        return Err(implausible(format!(
            "{:.1} MB of I/O in {wall:.3} s at most {} MB/s",
            u.io_mb, terms.io_mb_per_second
        )));
    }
    if u.peak_memory_bytes as f64 > limit_mb * MB * (1.0 + REL_SLACK) {
        return Err(implausible(format!(
            "a peak of {} bytes over a {limit_mb} MB limit",
            u.peak_memory_bytes
        )));
    }
    let quoted = terms.rates.quote(u);
    if i.charge != quoted {
        return Err(MeterRefusal::Charge {
            seq: i.seq,
            charged: i.charge,
            quoted,
        });
    }
    let ticket_err = |what: String| MeterRefusal::Ticket { seq: i.seq, what };
    match (&i.ticket, i.charge.is_zero()) {
        (None, true) => {}
        (None, false) => return Err(ticket_err("missing for a charge".into())),
        (Some(_), true) => return Err(ticket_err("offered for no charge".into())),
        (Some(t), false) => {
            if t.win_prob != terms.win_prob {
                return Err(ticket_err(format!(
                    "odds {} where {} were agreed",
                    t.win_prob, terms.win_prob
                )));
            }
            let face = face_value_for(i.charge, terms.win_prob);
            if t.face_value != face {
                return Err(ticket_err(format!(
                    "face value {} where the charge makes it {face}",
                    t.face_value
                )));
            }
        }
    }
    Ok(())
}

/// Prints the container's CPU time in nanoseconds, from inside it (cgroup v1, then v2).
pub const AUDIT_CMD: [&str; 3] = [
    "sh",
    "-c",
    "if [ -r /sys/fs/cgroup/cpuacct/cpuacct.usage ]; then cat /sys/fs/cgroup/cpuacct/cpuacct.usage; \
     else sed -n 's/^usage_usec //p' /sys/fs/cgroup/cpu.stat | sed 's/$/000/'; fi",
];

/// Compares the CPU seconds charged so far (every interval up to the last one charged) with the
/// container's own counter read after them (`measured_ns`, the output of [`AUDIT_CMD`]).
pub fn check_audit(charged_cpu_s: f64, measured_ns: u64) -> Result<(), MeterRefusal> {
    let measured_cpu_s = measured_ns as f64 / 1e9;
    if charged_cpu_s > measured_cpu_s * (1.0 + REL_SLACK) + CPU_SLACK_S {
        return Err(MeterRefusal::OverReported {
            charged_cpu_s,
            measured_cpu_s,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::IntervalTicket;
    use alloy::primitives::{Address, B256};
    use peerflow_compute::manifest::RateCard;
    use peerflow_orchestrator::params::expected_value;

    fn terms() -> Terms {
        Terms {
            provider: Address::repeat_byte(1),
            buyer: Address::repeat_byte(2),
            milli_cpus: 1000,
            memory_mb: 256,
            gpus: 0,
            image: "img".into(),
            ports: vec![],
            port_readers: vec![],
            rates: RateCard {
                per_cpu_second: 1e15,
                per_memory_mb_second: 1e10,
                per_io_mb: 1e13,
            },
            interval_ms: 2000,
            credit: U256::from(10u64).pow(U256::from(16u64)),
            win_prob: U256::MAX,
            io_mb_per_second: 100.0,
        }
    }

    fn interval(t: &Terms, seq: u64, start_ms: u64, cpu: f64) -> Interval {
        let before = Reading {
            at_ms: start_ms,
            cpu_ns: 0,
            memory_bytes: 10 << 20,
            io_bytes: 0,
        };
        let after = Reading {
            at_ms: start_ms + 2000,
            cpu_ns: (cpu * 1e9) as u64,
            memory_bytes: 12 << 20,
            io_bytes: 1 << 20,
        };
        let usage = usage_between(&before, &after);
        let charge = t.rates.quote(&usage);
        Interval {
            seq,
            start_ms,
            end_ms: start_ms + 2000,
            usage,
            charge,
            ticket: Some(IntervalTicket {
                recipient_rand_hash: B256::repeat_byte(3),
                face_value: face_value_for(charge, t.win_prob),
                win_prob: t.win_prob,
                creation_round: 1,
                expiration_block: 10,
            }),
            paid: false,
            last: false,
        }
    }

    #[test]
    fn usage_is_the_difference_of_two_readings() {
        let t = terms();
        let i = interval(&t, 0, 1_000, 1.5);
        assert_eq!(i.usage.cpu_seconds, 1.5);
        assert_eq!(i.usage.wall_seconds, 2.0);
        assert_eq!(
            i.usage.memory_mb_seconds, 22.0,
            "mean of 10 and 12 MB for 2 s"
        );
        assert_eq!(i.usage.io_mb, 1.0);
        assert_eq!(i.usage.peak_memory_bytes, 12 << 20);
        assert_eq!(i.charge, U256::from(1_510_220_000_000_000u64));
    }

    #[test]
    fn an_honest_interval_passes() {
        let t = terms();
        let a = interval(&t, 0, 1_000, 0.5);
        let b = interval(&t, 1, 3_000, 1.0);
        check_interval(&t, 0, None, &a).unwrap();
        check_interval(&t, 1, Some(a.end_ms), &b).unwrap();
    }

    #[test]
    fn dishonest_intervals_are_refused_with_their_reason() {
        let t = terms();
        let ok = interval(&t, 3, 1_000, 0.5);
        let code =
            |i: &Interval, prev: Option<u64>| check_interval(&t, 3, prev, i).unwrap_err().code();
        assert_eq!(
            code(&interval(&t, 4, 1_000, 0.5), None),
            "interval_sequence"
        );
        assert_eq!(code(&ok, Some(900)), "interval_sequence", "a gap");
        // More CPU than one CPU can give in 2 s.
        assert_eq!(
            code(&interval(&t, 3, 1_000, 2.5), None),
            "implausible_usage"
        );
        let mut i = ok.clone();
        i.usage.memory_mb_seconds = 600.0;
        i.charge = t.rates.quote(&i.usage);
        i.ticket.as_mut().unwrap().face_value = i.charge;
        assert_eq!(code(&i, None), "implausible_usage", "over the memory limit");
        let mut i = ok.clone();
        i.charge += U256::from(1u8);
        assert_eq!(code(&i, None), "wrong_charge");
        let mut i = ok.clone();
        i.ticket.as_mut().unwrap().face_value += U256::from(1u8);
        assert_eq!(code(&i, None), "wrong_ticket");
        let mut i = ok.clone();
        i.ticket.as_mut().unwrap().win_prob = U256::MAX / U256::from(2u8);
        assert_eq!(code(&i, None), "wrong_ticket");
        let mut i = ok.clone();
        i.usage.io_mb = 1e6;
        i.charge = t.rates.quote(&i.usage);
        i.ticket.as_mut().unwrap().face_value = i.charge;
        assert_eq!(
            code(&i, None),
            "implausible_usage",
            "I/O over the agreed most"
        );
        let mut i = ok;
        i.usage.cpu_seconds = f64::NAN;
        assert_eq!(code(&i, None), "implausible_usage");
    }

    #[test]
    fn face_value_makes_the_expected_value_the_charge() {
        let charge = U256::from(123_456_789u64);
        assert_eq!(face_value_for(charge, U256::MAX), charge);
        for p in [
            U256::MAX / U256::from(2u8),
            U256::MAX / U256::from(100u8),
            U256::MAX / U256::from(3u8),
        ] {
            let face = face_value_for(charge, p);
            assert!(expected_value(face, p) >= charge);
            assert!(
                expected_value(face - U256::from(1u8), p) < charge,
                "the least such"
            );
        }
    }

    #[test]
    fn the_buyer_prices_the_usage_it_reads_as_the_provider_did() {
        // The usage goes through JSON (sqlite, HTTP): every f64 must come back exactly, or the
        // buyer's quote is a wei off and an honest interval is refused.
        let t = terms();
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let before = Reading {
                at_ms: 1_000,
                cpu_ns: x % 3_000_000_000,
                memory_bytes: x % (256 << 20),
                io_bytes: x % (64 << 20),
            };
            let after = Reading {
                at_ms: 1_000 + 1 + x % 5_000,
                cpu_ns: before.cpu_ns + x % 999_999_937,
                memory_bytes: (x >> 3) % (256 << 20),
                io_bytes: before.io_bytes + (x >> 5) % (8 << 20),
            };
            let usage = usage_between(&before, &after);
            let back: MeteredUsage =
                serde_json::from_str(&serde_json::to_string(&usage).unwrap()).unwrap();
            assert_eq!(t.rates.quote(&back), t.rates.quote(&usage), "{usage:?}");
        }
    }

    #[test]
    fn an_audit_refuses_cpu_time_the_container_did_not_use() {
        check_audit(1.0, 1_000_000_000).unwrap();
        check_audit(1.05, 1_000_000_000).unwrap();
        assert_eq!(
            check_audit(3.0, 1_000_000_000).unwrap_err().code(),
            "over_reported"
        );
    }
}
