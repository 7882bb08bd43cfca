//! placeholder

pub mod epmd;
