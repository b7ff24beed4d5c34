//! usercom (in progress)
