//! The actor runtime of Omnigate.

pub mod clock;
pub mod router;

pub use router::Strategy;
