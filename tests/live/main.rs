//! Live tests against ground truth, in one test binary so they run at the same
//! time (each waits on real time: a ramp, a resolution): every demo scenario
//! headless (`scenarios`), and the postmortem's figures against the demo API's
//! own counters and fault instants (`ground_truth`), and ic's detections
//! against a real Prometheus and Alertmanager's (`ordering`).

#[path = "../support/mod.rs"]
mod support;

mod ground_truth;
mod ordering;
mod scenarios;
