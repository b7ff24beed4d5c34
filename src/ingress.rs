//! ingress (in progress)
