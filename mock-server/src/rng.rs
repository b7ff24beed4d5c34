//! Deterministic generators and hashes whose output must never change between runs, machines or
//! crate versions: user keys (seeded by the app name), the keys of apps made over the admin
//! plane, the draws of seeded fault rules, and the dashboard's ETags.
//!
//! Both functions are written out here rather than taken from a library: a library's algorithm
//! may change in a new version, and then the same calls would give different keys or faults.

/// FNV-1a, 64 bit, of `bytes`: a stable seed or content tag (not a security boundary; std's
/// hasher is randomised per process).
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// splitmix64: the next number of the generator whose state is `state`. Tiny and
/// well-distributed.
pub(crate) fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The outputs other code relies on (user keys, app keys, fault draws) stay fixed.
    #[test]
    fn outputs_are_stable() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        let mut s = 0;
        assert_eq!(splitmix(&mut s), 0xe220_a839_7b1d_cdaf);
        assert_eq!(splitmix(&mut s), 0x6e78_9e6a_a1b9_65f4);
    }
}
