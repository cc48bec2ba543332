//! Turning a client request into an upstream call and the upstream response back into the
//! client's dialect. Same dialect on both sides is a passthrough (only `model` is rewritten).

pub mod passthrough;
